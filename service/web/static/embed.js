// The framed sign-up form tells the page that frames it how tall it is, so the frame fits its
// content on any screen (the snippet on the desk's Share page listens for this). Only a
// height is sent: nothing the reader typed.
(function () {
  if (window.parent === window) return;
  var last = 0;
  function tell() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    window.parent.postMessage({ coursemailHeight: height }, "*");
  }
  window.addEventListener("load", tell);
  window.addEventListener("resize", tell);
  if (window.ResizeObserver) new ResizeObserver(tell).observe(document.documentElement);
  tell();
})();
