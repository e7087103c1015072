// A wallet built on @sphereon/oid4vci-client: takes an openid-credential-offer:// URI (and an
// optional tx_code), runs the pre-authorized code flow and prints the credential response as JSON.
// The holder key is a fresh Ed25519 key (node:crypto); the key proof names it by its did:key URL
// (or, with --jwk, by its public JWK) and is signed here, as a wallet's signing callback would.
//
//   node oid4vci_wallet.mjs '<offer uri>' [tx_code] [--jwk]
import crypto from 'node:crypto';
import {OpenID4VCIClientV1_0_15} from '@sphereon/oid4vci-client';

const args = process.argv.slice(2);
const useJwk = args.includes('--jwk');
const [uri, pin] = args.filter(a => a !== '--jwk');

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

const {publicKey, privateKey} = crypto.generateKeyPairSync('ed25519');
const jwk = publicKey.export({format: 'jwk'});
const raw = Buffer.from(jwk.x, 'base64url');
const did = 'did:key:z' + base58(Buffer.concat([Buffer.from([0xed, 0x01]), raw]));
const kid = `${did}#${did.slice('did:key:'.length)}`;

const b64u = value => Buffer.from(JSON.stringify(value)).toString('base64url');
async function signCallback(args) {
  const header = {...args.header, alg: 'EdDSA'};
  const input = `${b64u(header)}.${b64u(args.payload)}`;
  const signature = crypto.sign(null, Buffer.from(input), privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

const client = await OpenID4VCIClientV1_0_15.fromURI({uri, retrieveServerMetadata: true});
const configurationId = client.credentialOffer.credential_offer.credential_configuration_ids[0];
await client.acquireAccessToken(pin ? {pin} : {});
const response = await client.acquireCredentials({
  credentialConfigurationId: configurationId,
  proofCallbacks: {signCallback},
  alg: 'EdDSA',
  ...(useJwk ? {jwk: {kty: 'OKP', crv: 'Ed25519', x: jwk.x}} : {kid}),
});
process.stdout.write(JSON.stringify({
  holder: did,
  configurationId,
  issuer: client.getIssuer(),
  version: client.version(),
  response,
}) + '\n');
