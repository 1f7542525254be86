// The CSV import form with a progress bar: the upload's progress, then the rows the server has imported.
// Without this script the form posts as usual and the answer page shows the same result.
(function () {
  "use strict";

  function newId() {
    var bytes = new Uint8Array(18);
    window.crypto.getRandomValues(bytes);
    return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function show(box, stage, done, total) {
    var bar = box.querySelector("progress");
    box.querySelector("[role=status]").textContent = stage;
    if (total > 0) {
      bar.max = total;
      bar.value = Math.min(done, total);
    } else {
      bar.removeAttribute("value"); // indeterminate: working, amount unknown
    }
  }

  function bind(form) {
    if (!form || form.hasAttribute("data-ready")) return;
    form.setAttribute("data-ready", "");
    form.addEventListener("submit", function (event) {
      if (!window.XMLHttpRequest || !window.FormData || !window.DOMParser) return; // the plain post
      event.preventDefault();
      var box = document.getElementById("import-progress");
      var button = form.querySelector("button[type=submit]");
      var id = newId();
      form.querySelector("input[name=progress_id]").value = id;
      var data = new FormData(form);
      var polling = null;
      var finished = false;
      box.hidden = false;
      button.disabled = true;
      show(box, "Uploading…", 0, 100);

      function poll() {
        fetch("/staff/imports/progress/" + id, { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (state) {
            if (finished || !state) return;
            if (state.stage === "importing rows") {
              show(box, "Importing rows: " + state.done + " of about " + state.total, state.done, state.total);
            } else {
              show(box, state.stage.charAt(0).toUpperCase() + state.stage.slice(1) + "…", 0, 0);
            }
          })
          .catch(function () { /* the bar is a convenience; the answer still arrives */ });
      }

      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("Accept", "text/html");
      request.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          show(box, "Uploading: " + Math.round((100 * e.loaded) / e.total) + "%", e.loaded, e.total);
        }
      });
      request.upload.addEventListener("load", function () {
        show(box, "Uploaded; the server is reading the file…", 0, 0);
        polling = setInterval(poll, 400);
      });
      request.addEventListener("load", function () {
        finished = true;
        clearInterval(polling);
        var page = new DOMParser().parseFromString(request.responseText, "text/html");
        var main = page.getElementById("main");
        if (!main) {
          show(box, "The server answered HTTP " + request.status + "; try again.", 0, 1);
          button.disabled = false;
          return;
        }
        document.getElementById("main").replaceWith(document.adoptNode(main));
        if (page.title) document.title = page.title;
        bind(document.getElementById("import-form"));
        var report = document.getElementById("import-report") || document.querySelector(".field-error, .form-errors");
        if (report) report.scrollIntoView();
      });
      request.addEventListener("error", function () {
        finished = true;
        clearInterval(polling);
        show(box, "The connection broke off before the answer came: check the results before sending the file again.", 0, 1);
        button.disabled = false;
      });
      request.send(data);
    });
  }

  bind(document.getElementById("import-form"));
})();
