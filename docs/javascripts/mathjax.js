// MathJax settings for pymdownx.arithmatex (generic mode: it wraps the pages' $...$ in
// \(...\) and $$...$$ in \[...\]) and for the notebook pages' Markdown cells, whose maths
// mkdocs-jupyter leaves as $...$ and $$...$$.
// The engine itself is docs/javascripts/mathjax/tex-svg-full.js, shipped with the site.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true
  },
  svg: {
    fontCache: "global"  // each glyph's path once per page, not once per formula
  },
  options: {
    // skip every element with a class (and what is inside it) unless it is maths: a
    // class-less element such as a notebook cell's <p> follows its parent
    ignoreHtmlClass: ".+",
    processHtmlClass: "arithmatex|jp-RenderedMarkdown"
  }
};

// Material's instant navigation swaps pages without reloading: typeset each new page.
document$.subscribe(() => {
  MathJax.startup.output.clearCache()
  MathJax.typesetClear()
  MathJax.texReset()
  MathJax.typesetPromise()
})
