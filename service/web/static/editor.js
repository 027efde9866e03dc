// The course editor: save the draft a moment after she stops typing, then show what the
// server's checks found and reload the previews (rendered by the server, as sent). Without
// this script the form still saves with its button.
(function () {
  "use strict";
  var form = document.getElementById("editor");
  if (!form || !window.fetch) { return; }
  var status = document.getElementById("save-status");
  var problems = document.getElementById("problems");
  var frames = document.querySelectorAll("iframe[data-src]");
  var timer = null, busy = false, again = false, stopped = false;

  function say(text, trouble) {
    status.textContent = text;
    status.className = trouble ? "hint field-error" : "hint";
  }

  function show(found) {
    problems.textContent = "";
    var fields = form.querySelectorAll("input, textarea");
    fields.forEach(function (field) { field.removeAttribute("aria-invalid"); });
    found.forEach(function (problem) {
      var line = document.createElement("p");
      line.className = "field-error";
      line.textContent = problem.said;
      problems.appendChild(line);
      var field = document.getElementById(problem.field);
      if (field) { field.setAttribute("aria-invalid", "true"); }
    });
  }

  function save() {
    if (stopped) { return; }
    if (busy) { again = true; return; }
    busy = true;
    say("Saving…");
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (answer) {
      return answer.json().then(function (said) { return [answer.status, said]; });
    }).then(function (result) {
      var code = result[0], said = result[1];
      if (code === 409) {
        stopped = true;
        say(said.error, true);
        return;
      }
      if (code !== 200) {
        say(said.error || "Not saved: try again in a moment. Your words are still here.", true);
        return;
      }
      form.elements.revision.value = said.revision;
      say("Draft saved at " + said.saved + (said.problems.length ? ", with a problem to fix." : "."));
      show(said.problems);
      frames.forEach(function (frame) {
        frame.src = frame.getAttribute("data-src") + "?r=" + said.revision;
      });
    }).catch(function () {
      say("Not saved: the desk could not be reached. Your words are still here.", true);
    }).then(function () {
      busy = false;
      if (again) { again = false; save(); }
    });
  }

  form.addEventListener("input", function () {
    if (stopped) { return; }
    say("Changes not saved yet…");
    clearTimeout(timer);
    timer = setTimeout(save, 700);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(timer);
    save();
  });
}());
