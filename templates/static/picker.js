// Suggests providers while a name is typed; the form works without this script (the server finds the name).
(function () {
  "use strict";
  document.querySelectorAll("input[data-lookup]:not([data-ready])").forEach(function (input) {
    input.setAttribute("data-ready", "");
    var list = document.getElementById(input.getAttribute("list"));
    var hidden = document.getElementById(input.dataset.target);
    var offered = new Map();
    var timer = null;
    input.addEventListener("input", function () {
      var match = offered.get(input.value);
      hidden.value = match === undefined ? "" : match;
      clearTimeout(timer);
      if (match !== undefined || input.value.trim().length < 2) return;
      timer = setTimeout(function () {
        fetch(input.dataset.lookup + "?q=" + encodeURIComponent(input.value), { headers: { Accept: "application/json" } })
          .then(function (response) { return response.ok ? response.json() : []; })
          .then(function (found) {
            offered = new Map(found.map(function (p) { return [p.label, String(p.id)]; }));
            list.replaceChildren.apply(list, found.map(function (p) {
              var option = document.createElement("option");
              option.value = p.label;
              return option;
            }));
            var now = offered.get(input.value);
            if (now !== undefined) hidden.value = now;
          })
          .catch(function () { /* suggestions are a convenience; the server still finds the name */ });
      }, 200);
    });
  });
})();
