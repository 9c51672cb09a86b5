// @sd-jwt/sd-jwt-vc (OpenWallet Foundation's SD-JWT VC library) verifying Huren licence SD-JWT VCs.
// Input: a JSON file {"jwks": {...}, "credentials": [{"name", "sd_jwt", "nonce"?}]}.
// The issuer key is taken from the JWK Set by the issuer JWT's kid; the status list is fetched by the library's own
// fetcher from the URI in the credential (a live Huren server on loopback); the type metadata is fetched from the
// vct URL and checked against vct#integrity as W3C SRI (base64) -- see tests/licenses/test_peers.py for why the
// library's default vct fetcher is not used. Output: one JSON line per credential.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ES256, digest } from "@sd-jwt/crypto-nodejs";
import { SDJwtVcInstance } from "@sd-jwt/sd-jwt-vc";

const input = JSON.parse(readFileSync(process.argv[2], "utf8"));

function header(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[0], "base64url").toString("utf8"));
}

async function vctFetcher(uri, integrity) {
  const response = await fetch(uri);
  if (!response.ok) throw new Error(`type metadata ${uri}: HTTP ${response.status}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  if (integrity) {
    const [alg, value] = [integrity.slice(0, integrity.indexOf("-")), integrity.slice(integrity.indexOf("-") + 1)];
    const computed = createHash(alg).update(bytes).digest("base64");
    if (computed !== value) throw new Error(`vct#integrity mismatch for ${uri}: ${alg}-${computed}`);
  }
  return JSON.parse(bytes.toString("utf8"));
}

for (const item of input.credentials) {
  try {
    const kid = header(item.sd_jwt.split("~")[0]).kid;
    const jwk = input.jwks.keys.find((key) => key.kid === kid);
    if (!jwk) throw new Error(`no key ${kid} in the JWK Set`);
    const sdjwt = new SDJwtVcInstance({
      hasher: digest,
      verifier: await ES256.getVerifier(jwk),
      kbVerifier: async (data, signature, payload) => (await ES256.getVerifier(payload.cnf.jwk))(data, signature),
      vctFetcher,
      loadTypeMetadataFormat: true,
    });
    const options = item.nonce ? { keyBindingNonce: item.nonce } : undefined;
    const result = await sdjwt.verify(item.sd_jwt, options);
    const claims = await sdjwt.getClaims(item.sd_jwt);
    console.log(
      JSON.stringify({
        name: item.name,
        ok: true,
        vct: result.payload.vct,
        type_name: result.typeMetadata?.mergedTypeMetadata?.name ?? null,
        kb: Boolean(result.kb),
        kb_aud: result.kb?.payload?.aud ?? null,
        fields: Object.keys(claims.license?.fields ?? {}).sort(),
      }),
    );
  } catch (error) {
    console.log(JSON.stringify({ name: item.name, ok: false, error: String(error) }));
  }
}
