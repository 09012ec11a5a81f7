// Validates an OpenAPI document against the official OpenAPI 3.1 JSON schema and resolves its
// $refs. Used by the integration tests on the document hangard generates.
//   node web/docs/validate-openapi.mjs openapi.json
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";

const file = process.argv[2];
if (!file) {
  console.error("usage: validate-openapi.mjs FILE");
  process.exit(2);
}
const validator = new Validator();
const result = await validator.validate(JSON.parse(readFileSync(file, "utf8")));
if (!result.valid) {
  console.error(JSON.stringify(result.errors, null, 2));
  process.exit(1);
}
const refs = await validator.validateRefs?.();
if (refs && !refs.valid) {
  console.error(JSON.stringify(refs.errors, null, 2));
  process.exit(1);
}
console.log(`valid OpenAPI ${validator.version}`);
