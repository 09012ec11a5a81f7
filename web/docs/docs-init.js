// Interactive docs for the Hangar API: Swagger UI over the document hangard generates from its
// route table. "Authorize" takes an API key (hgr_…); it is kept in this browser's local storage
// so that try-it requests carry it.
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    tryItOutEnabled: true,
    displayRequestDuration: true,
  });
});
