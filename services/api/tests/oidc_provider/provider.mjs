// A real OpenID provider (oidc-provider) on loopback for the API's sign-in tests and
// for trying the sign-in page locally. Configured by environment variables:
//   OIDC_PORT          port on 127.0.0.1 (required)
//   OIDC_ISSUER        issuer URL (default http://127.0.0.1:$OIDC_PORT)
//   OIDC_CLIENT_ID     the static client (default acme)
//   OIDC_CLIENT_SECRET its secret (default acme-local-secret)
//   OIDC_REDIRECT_URIS comma-separated callback URLs (default http://127.0.0.1:8000/auth/callback)
//   OIDC_KEYS_FILE     a private JWKS to sign with (default: a new RS256 key per start)
// Any login name and password are accepted on its development login page; the
// account's subject is the login name.
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import Provider from "oidc-provider";

const env = process.env;
const port = Number(env.OIDC_PORT);
if (!port) {
  console.error("OIDC_PORT is required");
  process.exit(2);
}
const issuer = env.OIDC_ISSUER || `http://127.0.0.1:${port}`;

function signingKeys() {
  if (env.OIDC_KEYS_FILE) return JSON.parse(readFileSync(env.OIDC_KEYS_FILE, "utf8"));
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { keys: [{ ...privateKey.export({ format: "jwk" }), alg: "RS256", use: "sig" }] };
}

const configuration = {
  clients: [
    {
      client_id: env.OIDC_CLIENT_ID || "acme",
      client_secret: env.OIDC_CLIENT_SECRET || "acme-local-secret",
      redirect_uris: (env.OIDC_REDIRECT_URIS || "http://127.0.0.1:8000/auth/callback").split(","),
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: env.OIDC_CLIENT_AUTH || "client_secret_basic",
    },
  ],
  jwks: signingKeys(),
  claims: { openid: ["sub"], profile: ["name"], email: ["email", "email_verified"] },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ["acme-test-provider-cookie-key"] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: `Test ${id}`, email: `${id}@example.test`, email_verified: true };
      },
    };
  },
};

const provider = new Provider(issuer, configuration);
const server = provider.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
