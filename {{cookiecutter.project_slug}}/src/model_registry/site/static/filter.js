// The index's filter box: hides the rows whose model, versions, stages and tags miss a typed
// word; `?q=` in the address fills it, so a filtered list can be shared as a link.
(function () {
  var box = document.getElementById("filter");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#models tbody tr"));
  var shown = document.getElementById("shown");
  var none = document.getElementById("no-match");
  function apply() {
    var terms = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    var count = 0;
    rows.forEach(function (row) {
      var text = row.getAttribute("data-search") || "";
      var match = terms.every(function (t) { return text.indexOf(t) !== -1; });
      row.hidden = !match;
      if (match) { count += 1; }
    });
    shown.textContent = count + " of " + rows.length + " models";
    none.hidden = count !== 0;
  }
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) { box.value = query; }
  box.addEventListener("input", apply);
  document.getElementById("filter-box").hidden = false;
  apply();
})();
