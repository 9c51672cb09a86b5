// panva/jose at its default settings: verify each compact JWS against a JWK Set (createLocalJWKSet picks the key by
// kid and alg). Input: a JSON file {"jwks": {...}, "tokens": ["..."]}; output: one JSON line per token.
import { readFileSync } from "node:fs";
import { createLocalJWKSet, jwtVerify } from "jose";

const input = JSON.parse(readFileSync(process.argv[2], "utf8"));
const keys = createLocalJWKSet(input.jwks);
for (const token of input.tokens) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, keys);
    console.log(JSON.stringify({ ok: true, jti: payload.jti, header: protectedHeader }));
  } catch (error) {
    console.log(JSON.stringify({ ok: false, code: error.code ?? null, error: String(error) }));
  }
}
