// ReDoc on the service's own OpenAPI document, from files served here (no CDN, no inline script).
"use strict";
(function () {
  const root = document.getElementById("redoc");
  Redoc.init(root.dataset.spec, { hideDownloadButton: false }, root);
})();
