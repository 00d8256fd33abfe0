// An OpenID provider for Depot's tests: oidc-provider (npm), with its
// development sign-in pages, three people and one client (PKCE required,
// back-channel logout), signing with the test's key. Usage:
//   DEPOT_OIDC_PROVIDER=<the oidc-provider package folder> DEPOT_OIDC_JWKS=<a JWK set file> \
//   node oidc-provider.mjs PORT CLIENT_ID SECRET REDIRECT_URI BACKCHANNEL_URI
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [port, clientID, secret, redirect, backchannel] = process.argv.slice(2);
const { default: Provider } = await import(pathToFileURL(path.join(process.env.DEPOT_OIDC_PROVIDER, 'lib/index.js')).href);

const people = {
  alice: { sub: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice Liddell', groups: ['finance'] },
  bob: { sub: 'bob', email: 'bob@example.com', email_verified: true, name: 'Bob Builder', groups: [] },
  eve: { sub: 'eve', email: 'eve@example.com', email_verified: false, name: 'Eve', groups: [] },
};

const provider = new Provider(`http://127.0.0.2:${port}`, {
  clients: [{
    client_id: clientID, client_secret: secret, redirect_uris: [redirect],
    response_types: ['code'], grant_types: ['authorization_code'],
    backchannel_logout_uri: backchannel, backchannel_logout_session_required: true,
  }],
  pkce: { required: () => true, methods: ['S256'] },
  features: { devInteractions: { enabled: true }, backchannelLogout: { enabled: true } },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  findAccount: async (ctx, id) => (people[id] ? { accountId: id, claims: async () => people[id] } : undefined),
  cookies: { keys: ['depot-test-oidc-cookies'] },
  jwks: JSON.parse(fs.readFileSync(process.env.DEPOT_OIDC_JWKS, 'utf8')),
});
provider.listen(Number(port), '127.0.0.2', () => console.log('listening'));
