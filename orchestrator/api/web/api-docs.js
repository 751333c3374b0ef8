// Swagger UI on the service's own OpenAPI document, from files served here (no CDN, and
// no inline script: the page runs under the same Content-Security-Policy as the dashboard).
"use strict";
(function () {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    persistAuthorization: false,
    validatorUrl: null,
  });
})();
