// Scanning a shop's QR code with the camera, on the pay page (/app/pay): a progressive
// enhancement. Where the browser has BarcodeDetector and a camera, a "Scan" button appears; the
// code's text is put in the "QR code text" field and that form is sent, exactly as if pasted.
// Without either, nothing shows and the page works as before. Served same-origin: the page's
// Content-Security-Policy allows `script-src 'self'` and nothing else.
"use strict";
(function () {
  var box = document.getElementById("scan");
  var form = document.querySelector('form[action="/app/pay/qr"]');
  if (!box || !form || !("BarcodeDetector" in window) || !navigator.mediaDevices ||
      !navigator.mediaDevices.getUserMedia) {
    return;
  }
  var button = box.querySelector("button");
  var video = box.querySelector("video");
  var status = box.querySelector("[role=status]");
  box.hidden = false;
  button.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    button.disabled = true;
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        return video.play().then(function () { look(detector, stream); });
      })
      .catch(function () {
        status.textContent = box.dataset.refused;
        button.disabled = false;
      });
  });
  function look(detector, stream) {
    detector.detect(video).then(function (codes) {
      if (codes.length && codes[0].rawValue) {
        stream.getTracks().forEach(function (track) { track.stop(); });
        form.querySelector("textarea[name=payload]").value = codes[0].rawValue;
        form.requestSubmit();
        return;
      }
      window.setTimeout(function () { look(detector, stream); }, 250);
    }).catch(function () {
      window.setTimeout(function () { look(detector, stream); }, 250);
    });
  }
})();
