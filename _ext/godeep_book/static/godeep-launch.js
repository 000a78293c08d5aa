// Launch (Binder, Colab) and download links give the notebook of the selected framework.
// A page built from a split source carries <meta name="godeep-framework-notebooks"> (see
// _ext/godeep_book/launch.py); every link to the source notebook is pointed at the derived
// notebook of the framework sphinx-design stored for the sync group "framework".
(function () {
  "use strict";
  var KEY = "sphinx-design-tab-id-framework";

  function notebooks() {
    var meta = document.querySelector('meta[name="godeep-framework-notebooks"]');
    return meta ? JSON.parse(meta.getAttribute("content")) : null;
  }

  function rewrite() {
    var names = notebooks();
    if (!names) return;
    var framework = null;
    try { framework = window.localStorage.getItem(KEY); } catch (e) { /* storage off */ }
    var target = names[framework] || names.pytorch;
    document.querySelectorAll("a[href]").forEach(function (a) {
      var original = a.getAttribute("data-godeep-href");
      if (original === null) {
        original = a.getAttribute("href");
        if (original.indexOf(names.source) < 0) return;
        a.setAttribute("data-godeep-href", original);
      }
      a.setAttribute("href", original.split(names.source).join(target));
    });
  }

  document.addEventListener("DOMContentLoaded", rewrite);
  // after sphinx-design's own click handler has stored the choice
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest(".sd-tab-label")) setTimeout(rewrite, 0);
  });
  window.addEventListener("storage", rewrite);
})();
