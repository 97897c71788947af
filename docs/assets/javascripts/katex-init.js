// Client-side fallback for math. The build hook (docs/hooks/katex.py) already renders every
// formula, so on this site this finds nothing to do; it matters only when the site is built by a
// tool that ignores MkDocs hooks. `document$` re-runs it after instant navigation.
document$.subscribe(function () {
  if (typeof katex === "undefined") return;
  document.querySelectorAll(".arithmatex").forEach(function (el) {
    if (el.querySelector(".katex")) return; // rendered at build time
    var tex = el.textContent.trim();
    var display = tex.slice(0, 2) === "\\[";
    tex = tex.replace(/^\\[\[(]/, "").replace(/\\[\])]$/, "");
    katex.render(tex, el, { displayMode: display, throwOnError: false });
  });
});
