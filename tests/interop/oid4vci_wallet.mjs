// A wallet built on @sphereon/oid4vci-client: takes an openid-credential-offer:// URI (and an
// optional tx_code), runs the pre-authorized code flow and prints the credential response as JSON.
// The holder key is a fresh key made and used with panva's `jose` (a second JOSE implementation):
// Ed25519 (EdDSA, the default) or P-256 (--alg ES256). The key proof names it by its did:key URL
// (or, with --jwk, by its public JWK) and is signed here, as a wallet's signing callback would.
// --config ID asks for that credential configuration (default: the offer's first).
//
//   node oid4vci_wallet.mjs '<offer uri>' [tx_code] [--jwk] [--alg EdDSA|ES256] [--config ID]
import {CompactSign, exportJWK, generateKeyPair} from 'jose';
import {OpenID4VCIClientV1_0_15} from '@sphereon/oid4vci-client';

const argv = process.argv.slice(2);
function option(name) {
  const i = argv.indexOf(name);
  if(i < 0) return undefined;
  const [value] = argv.splice(i, 2).slice(1);
  return value;
}
const alg = option('--alg') ?? 'EdDSA';
const wantedConfig = option('--config');
const useJwk = argv.includes('--jwk');
const [uri, pin] = argv.filter(a => a !== '--jwk');

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function base58(bytes) {
  let n = BigInt('0x' + Buffer.from(bytes).toString('hex'));
  let out = '';
  while(n > 0n) {
    out = B58[Number(n % 58n)] + out;
    n /= 58n;
  }
  for(const b of bytes) {
    if(b !== 0) break;
    out = '1' + out;
  }
  return out;
}

const {publicKey, privateKey} = alg === 'ES256' ?
  await generateKeyPair('ES256') :
  await generateKeyPair('EdDSA', {crv: 'Ed25519'});
const {kty, crv, x, y} = await exportJWK(publicKey);
const jwk = y ? {kty, crv, x, y} : {kty, crv, x};
let multikey;
if(alg === 'ES256') {  // multicodec p256-pub (0x1200), compressed SEC1 point
  const yBytes = Buffer.from(y, 'base64url');
  const prefix = yBytes[yBytes.length - 1] % 2 === 0 ? 0x02 : 0x03;
  multikey = Buffer.concat([Buffer.from([0x80, 0x24, prefix]), Buffer.from(x, 'base64url')]);
} else {  // multicodec ed25519-pub (0xed)
  multikey = Buffer.concat([Buffer.from([0xed, 0x01]), Buffer.from(x, 'base64url')]);
}
const did = 'did:key:z' + base58(multikey);
const kid = `${did}#${did.slice('did:key:'.length)}`;

async function signCallback(args) {
  const header = {...args.header, alg};
  return new CompactSign(new TextEncoder().encode(JSON.stringify(args.payload)))
    .setProtectedHeader(header)
    .sign(privateKey);
}

const client = await OpenID4VCIClientV1_0_15.fromURI({uri, retrieveServerMetadata: true});
const configurationId = wantedConfig ??
  client.credentialOffer.credential_offer.credential_configuration_ids[0];
await client.acquireAccessToken(pin ? {pin} : {});
const response = await client.acquireCredentials({
  credentialConfigurationId: configurationId,
  proofCallbacks: {signCallback},
  alg,
  ...(useJwk ? {jwk} : {kid}),
});
process.stdout.write(JSON.stringify({
  holder: did,
  holderJwk: jwk,
  configurationId,
  issuer: client.getIssuer(),
  version: client.version(),
  response,
}) + '\n');
