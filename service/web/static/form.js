// The sign-up form, kinder on a phone: after a failed send the first problem takes the focus
// (the browser scrolls to it and a screen reader reads it), and an address that looks like a
// slip ("gmial.com", "gmail.con", "hotmail") gets a suggestion as the reader leaves the field.
// Only a suggestion: the form never refuses an address for it.
(function () {
  var email = document.getElementById("email");
  var note = document.getElementById("email-suggestion");
  if (!email || !note) return;
  var known = (email.getAttribute("data-domains") || "").split(",");

  function distance(a, b) {
    var d = [];
    for (var i = 0; i <= a.length; i++) { d.push([i]); }
    for (var j = 1; j <= b.length; j++) { d[0][j] = j; }
    for (i = 1; i <= a.length; i++) {
      for (j = 1; j <= b.length; j++) {
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
          d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    return d[a.length][b.length];
  }

  function suggestion(address) {
    var at = address.lastIndexOf("@");
    if (at < 1) return "";
    var local = address.slice(0, at), domain = address.slice(at + 1).toLowerCase().replace(/\.$/, "");
    if (!domain || known.indexOf(domain) >= 0) return "";
    var best = known[0], bestDistance = distance(domain, best);
    known.forEach(function (k) { var n = distance(domain, k); if (n < bestDistance) { best = k; bestDistance = n; } });
    if (domain.indexOf(".") < 0 && best.indexOf(domain + ".") === 0) return local + "@" + best;
    return bestDistance <= 2 && domain.length >= 5 ? local + "@" + best : "";
  }

  var shown = note.querySelector("[data-use]") ? note.querySelector("[data-use]").getAttribute("data-use") : "";

  function show() {
    var better = suggestion(email.value.trim());
    if (better === shown) return; // nothing moves under a finger about to tap "Send"
    shown = better;
    note.textContent = "";
    if (!better) return;
    note.appendChild(document.createTextNode("Did you mean "));
    var strong = document.createElement("strong");
    strong.textContent = better;
    note.appendChild(strong);
    note.appendChild(document.createTextNode("? "));
    var use = document.createElement("button");
    use.type = "button";
    use.className = "link-button";
    use.setAttribute("data-use", better);
    use.textContent = "Use it";
    note.appendChild(use);
  }

  // as they type (after a short pause), never as they leave the field: a line appearing
  // then would move the "Send" button from under the finger already tapping it
  var pause = null;
  email.addEventListener("input", function () {
    clearTimeout(pause);
    pause = setTimeout(show, 400);
  });
  note.addEventListener("click", function (event) {
    var wanted = event.target.getAttribute && event.target.getAttribute("data-use");
    if (!wanted) return;
    email.value = wanted;
    note.textContent = "";
    shown = "";
    email.focus();
  });

  var invalid = document.querySelector('[aria-invalid="true"]');
  if (invalid) {
    invalid.focus();
    invalid.scrollIntoView({ block: "center" });
  }
})();
