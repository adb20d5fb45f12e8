// The backward walk, one visit at a time. walk.py wrote every number into #walk-data;
// this script only shows step `at`: the visits 1..at are done, visit `at` is lit.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("walk-data").textContent);
  const steps = data.steps;
  const weights = data.weights;
  const last = steps.length;
  const $ = (id) => document.getElementById(id);

  // Graphviz names each SVG group by a <title>: "n7" for a node, "n3->n7" for an edge
  const nodes = new Map();
  const edges = new Map();
  for (const g of document.querySelectorAll("#picture g.node, #picture g.edge")) {
    const title = g.querySelector("title").textContent;
    (g.classList.contains("node") ? nodes : edges).set(title, g);
  }
  const walked = new Set(steps.map((s) => s.node));
  const rows = Array.from(document.querySelectorAll("#weights .weight"));
  // each bar is scaled to the largest running sum its weight reaches
  const longest = weights.map((w) => Math.max(w.grad, ...w.terms.map((t) => t[2])) || 1);
  rows.forEach((row, i) => {
    row.querySelector(".target").style.left = (100 * weights[i].grad / longest[i]) + "%";
  });

  const number = (x) => (x === null ? "?" : Number(x).toPrecision(4));
  const shape = (s) => (s.length ? s.join("×") : "scalar");
  function line(parent, text, className) {
    const p = document.createElement("p");
    p.textContent = text;
    if (className) p.className = className;
    parent.appendChild(p);
    return p;
  }

  function edgeBetween(a, b) {  // edges drawn against time are reversed in the DOT text
    return edges.get(a + "->" + b) || edges.get(b + "->" + a);
  }

  function describe(step, at) {
    const box = $("visit");
    box.textContent = "";
    if (!step) {
      line(box, "Start: nothing visited yet. The walk begins at the loss with ∂L/∂L = 1.");
      return;
    }
    line(box, `Visit ${at}: ${step.label}`, "title");
    if (step.scope) line(box, `scope ${step.scope}`, "scope");
    line(box, `receives |∂L/∂·| = ${number(step.norm)}   (${shape(step.shape)})`);
    if (!step.sends.length) {
      line(box, "a leaf: its gradient is complete and stays in .grad");
    }
    for (const send of step.sends) {
      line(box, `→ ${send.label}: ‖·‖ = ${number(send.norm)}   (${shape(send.shape)})`,
           "send");
    }
    for (const [i, term] of step.adds) {
      line(box, `+ one term of ${weights[i].name}'s sum: ‖term‖ = ${number(term)}`, "add");
    }
  }

  let at = 0;
  let timer = null;

  function show(k) {
    at = Math.max(0, Math.min(last, k));
    const step = steps[at - 1];
    const done = new Set(steps.slice(0, at).map((s) => s.node));
    for (const [name, g] of nodes) {
      g.classList.toggle("waiting", walked.has(name) && !done.has(name));
      g.classList.toggle("current", Boolean(step) && name === step.node);
    }
    for (const g of edges.values()) g.classList.remove("passing");
    if (step) {
      for (const send of step.sends) {
        const edge = edgeBetween(send.node, step.node);
        if (edge) edge.classList.add("passing");
      }
      const current = nodes.get(step.node);
      if (current && !$("picture").classList.contains("fit")) {
        current.scrollIntoView({ block: "nearest", inline: "nearest" });
      }
    }
    weights.forEach((w, i) => {
      let sum = 0;
      let count = 0;
      for (const [when, , total] of w.terms) {
        if (when > at) break;
        sum = total;
        count += 1;
      }
      const row = rows[i];
      row.dataset.sum = String(sum);
      row.dataset.terms = String(count);
      row.querySelector(".value").textContent = number(sum);
      row.querySelector(".fill").style.width = (100 * sum / longest[i]) + "%";
      row.querySelector(".count").textContent =
        `${count} of ${w.terms.length} term${w.terms.length === 1 ? "" : "s"}`;
      row.classList.toggle("adding", Boolean(step) && step.adds.some((a) => a[0] === i));
    });
    describe(step, at);
    $("slider").value = String(at);
    $("counter").textContent = `step ${at} of ${last}`;
    $("prev").disabled = at === 0;
    $("next").disabled = at === last;
    document.body.classList.toggle("finished", at === last);
  }

  function pause() {
    clearInterval(timer);
    timer = null;
    $("play").textContent = "▶ play";
  }
  function play() {
    if (at === last) show(0);
    $("play").textContent = "❚❚ pause";
    timer = setInterval(() => {
      show(at + 1);
      if (at === last) pause();
    }, 700);
  }

  $("prev").addEventListener("click", () => { pause(); show(at - 1); });
  $("next").addEventListener("click", () => { pause(); show(at + 1); });
  $("play").addEventListener("click", () => (timer ? pause() : play()));
  $("slider").addEventListener("input", (e) => { pause(); show(Number(e.target.value)); });
  $("fit").addEventListener("click", () => {
    const fit = $("picture").classList.toggle("fit");
    $("fit").textContent = fit ? "full size" : "fit to width";
  });
  document.addEventListener("keydown", (e) => {
    if (e.target === $("slider") || e.altKey || e.ctrlKey || e.metaKey) return;
    const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: last };
    if (e.key in moves) {
      pause();
      show(moves[e.key]);
    } else if (e.key === " ") {
      if (timer) pause(); else play();
    } else {
      return;
    }
    e.preventDefault();
  });

  // #end opens the final state, #12 step 12
  function fromHash() {
    const hash = window.location.hash.slice(1);
    if (hash === "end") show(last);
    else if (/^\d+$/.test(hash)) show(Number(hash));
    else show(0);
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
