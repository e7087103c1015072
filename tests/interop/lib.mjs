// Shared pieces of the vc-js harness: an offline document loader and key import.
//
// Why offline: the interop tests must prove that both stacks agree on the
// *pinned* contexts of this repository (contexts/index.json), and CI has no
// network. Every URL outside the index (and outside did:key / caller-supplied
// controller documents) is refused with an error naming it.
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

import * as EcdsaMultikey from '@digitalbazaar/ecdsa-multikey';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {Ed25519VerificationKey2020} from
  '@digitalbazaar/ed25519-verification-key-2020';
import {Ed25519Signature2020} from '@digitalbazaar/ed25519-signature-2020';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from
  '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as eddsaJcs2022 from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {cryptosuite as ecdsaRdfc2019CryptoSuite} from
  '@digitalbazaar/ecdsa-rdfc-2019-cryptosuite';
import * as ecdsaJcs2019 from '@digitalbazaar/ecdsa-jcs-2019-cryptosuite';
import * as ecdsaSd2023 from '@digitalbazaar/ecdsa-sd-2023-cryptosuite';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(HERE, '..', '..');
const CONTEXTS_DIR = join(REPO_ROOT, 'contexts');

const DID_V1 = 'https://www.w3.org/ns/did/v1';
const MULTIKEY_V1 = 'https://w3id.org/security/multikey/v1';
const ED25519_2020_V1 = 'https://w3id.org/security/suites/ed25519-2020/v1';

export const SUITES = [
  'eddsa-rdfc-2022', 'Ed25519Signature2020', 'eddsa-jcs-2022',
  'ecdsa-rdfc-2019', 'ecdsa-jcs-2019', 'ecdsa-sd-2023'
];
const ECDSA_SUITES = new Set(['ecdsa-rdfc-2019', 'ecdsa-jcs-2019', 'ecdsa-sd-2023']);

// Belt and braces: nothing in this harness may reach the network.
globalThis.fetch = async url => {
  throw new Error(`network access refused in interop harness: ${url}`);
};

let _contexts = null;
/** URL -> parsed context, from the repository's pinned contexts/index.json. */
export function pinnedContexts() {
  if(_contexts) {
    return _contexts;
  }
  const index = JSON.parse(
    readFileSync(join(CONTEXTS_DIR, 'index.json'), 'utf8'));
  _contexts = new Map();
  for(const [url, entry] of Object.entries(index.contexts)) {
    _contexts.set(url, JSON.parse(
      readFileSync(join(CONTEXTS_DIR, entry.file), 'utf8')));
  }
  return _contexts;
}

// --- base58btc / multicodec (tiny, to avoid depending on transitive deps) ---
const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function base58Decode(text) {
  let n = 0n;
  for(const ch of text) {
    const v = B58.indexOf(ch);
    if(v < 0) {
      throw new Error(`invalid base58 character "${ch}"`);
    }
    n = n * 58n + BigInt(v);
  }
  const bytes = [];
  while(n > 0n) {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  for(const ch of text) {
    if(ch !== '1') {
      break;
    }
    bytes.unshift(0);
  }
  return Uint8Array.from(bytes);
}

function hexDecode(hex) {
  if(!/^([0-9a-fA-F]{2})+$/.test(hex)) {
    throw new Error('invalid hex string');
  }
  return Uint8Array.from(hex.match(/../g).map(b => parseInt(b, 16)));
}

/**
 * The 32-byte Ed25519 seed of a key object in any encoding met in the
 * vectors: secretKeyMultibase / privateKeyMultibase (0x80 0x26 + 32-byte seed
 * or 64-byte seed||public), privateKeyHex (32 or 64 bytes).
 */
export function seedOf(key) {
  const mb = key.secretKeyMultibase ?? key.privateKeyMultibase;
  if(mb !== undefined) {
    if(typeof mb !== 'string' || mb[0] !== 'z') {
      throw new Error('secret key must be a base58btc multibase string');
    }
    const raw = base58Decode(mb.slice(1));
    if(raw[0] !== 0x80 || raw[1] !== 0x26) {
      throw new Error('secret key multicodec is not ed25519-priv (0x1300)');
    }
    const body = raw.slice(2);
    if(body.length !== 32 && body.length !== 64) {
      throw new Error(`secret key has ${body.length} bytes, want 32 or 64`);
    }
    return body.slice(0, 32);
  }
  if(key.privateKeyHex !== undefined) {
    const body = hexDecode(key.privateKeyHex);
    if(body.length !== 32 && body.length !== 64) {
      throw new Error(`privateKeyHex has ${body.length} bytes, want 32 or 64`);
    }
    return body.slice(0, 32);
  }
  throw new Error('key has no secretKeyMultibase/privateKeyMultibase/' +
    'privateKeyHex');
}

/** id + controller of the verification method: did:key unless given. */
function vmOf(key, publicKeyMultibase) {
  if(key.id && key.controller) {
    return {id: key.id, controller: key.controller};
  }
  const did = `did:key:${publicKeyMultibase}`;
  return {id: `${did}#${publicKeyMultibase}`, controller: did};
}

/**
 * A signing suite instance for `suite`, from the caller's key.
 * eddsa-rdfc-2022 / eddsa-jcs-2022: DataIntegrityProof with an Ed25519Multikey.
 * ecdsa-*: DataIntegrityProof with an EcdsaMultikey (P-256 or P-384 Multikey
 *   JSON with secretKeyMultibase); ecdsa-sd-2023 takes `mandatoryPointers`.
 * Ed25519Signature2020: an Ed25519VerificationKey2020 key pair.
 */
export async function signingSuite({suite, key, created, mandatoryPointers}) {
  const date = created ?? undefined;
  if(ECDSA_SUITES.has(suite)) {
    const {publicKeyMultibase, secretKeyMultibase} = key;
    const vm = vmOf(key, publicKeyMultibase);
    const kp = await EcdsaMultikey.from({
      '@context': 'https://w3id.org/security/multikey/v1',
      type: 'Multikey', ...vm, publicKeyMultibase, secretKeyMultibase
    });
    const cryptosuite = suite === 'ecdsa-rdfc-2019' ? ecdsaRdfc2019CryptoSuite :
      suite === 'ecdsa-jcs-2019' ? ecdsaJcs2019.createSignCryptosuite() :
      ecdsaSd2023.createSignCryptosuite({mandatoryPointers});
    return new DataIntegrityProof({signer: kp.signer(), date, cryptosuite});
  }
  const seed = seedOf(key);
  if(suite === 'eddsa-rdfc-2022' || suite === 'eddsa-jcs-2022') {
    const probe = await Ed25519Multikey.generate({seed});
    const vm = vmOf(key, probe.publicKeyMultibase);
    const kp = await Ed25519Multikey.generate({seed, ...vm});
    checkPublic(key, kp.publicKeyMultibase);
    const cryptosuite = suite === 'eddsa-rdfc-2022' ? eddsaRdfc2022CryptoSuite :
      eddsaJcs2022.createSignCryptosuite();
    return new DataIntegrityProof({signer: kp.signer(), date, cryptosuite});
  }
  if(suite === 'Ed25519Signature2020') {
    const probe = await Ed25519VerificationKey2020.generate({seed});
    const vm = vmOf(key, probe.publicKeyMultibase);
    const kp = await Ed25519VerificationKey2020.generate({seed, ...vm});
    checkPublic(key, kp.publicKeyMultibase);
    return new Ed25519Signature2020({key: kp, date});
  }
  throw new Error(`unsupported suite "${suite}" (want one of ${SUITES})`);
}

function checkPublic(key, derived) {
  if(key.publicKeyMultibase && key.publicKeyMultibase !== derived) {
    throw new Error(`publicKeyMultibase ${key.publicKeyMultibase} does not ` +
      `match the secret key (derives ${derived})`);
  }
}

/** Verification suites: every one, so that any proof type is checked. */
export function verifyingSuites() {
  return [
    new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite}),
    new Ed25519Signature2020(),
    new DataIntegrityProof({
      cryptosuite: eddsaJcs2022.createVerifyCryptosuite()
    }),
    new DataIntegrityProof({cryptosuite: ecdsaRdfc2019CryptoSuite}),
    new DataIntegrityProof({
      cryptosuite: ecdsaJcs2019.createVerifyCryptosuite()
    }),
    new DataIntegrityProof({cryptosuite: ecdsaSd2023.createVerifyCryptosuite()})
  ];
}

/** The suite a holder derives an ecdsa-sd-2023 disclosure with. */
export function disclosingSuite({selectivePointers}) {
  return new DataIntegrityProof({
    cryptosuite: ecdsaSd2023.createDiscloseCryptosuite({selectivePointers})
  });
}

/**
 * did:key -> DID document, built by hand from the multibase value: Ed25519 in
 * the Multikey form (default) or the Ed25519VerificationKey2020 one; P-256
 * (zDn...) and P-384 (z82...) in the Multikey form.
 */
export function didKeyDocument(did, format = 'multikey') {
  const mb = did.slice('did:key:'.length);
  if(mb.startsWith('zDn') || mb.startsWith('z82')) {
    const vmId = `${did}#${mb}`;
    return {
      '@context': [DID_V1, MULTIKEY_V1],
      id: did,
      verificationMethod: [{
        id: vmId, type: 'Multikey', controller: did, publicKeyMultibase: mb
      }],
      authentication: [vmId],
      assertionMethod: [vmId],
      capabilityDelegation: [vmId],
      capabilityInvocation: [vmId]
    };
  }
  if(!mb.startsWith('z6Mk')) {
    throw new Error(`not an Ed25519, P-256 or P-384 did:key: ${did}`);
  }
  const raw = base58Decode(mb.slice(1));
  if(raw.length !== 34 || raw[0] !== 0xed || raw[1] !== 0x01) {
    throw new Error(`invalid Ed25519 did:key: ${did}`);
  }
  const vmId = `${did}#${mb}`;
  const legacy = format === 'ed25519-2020';
  return {
    '@context': [DID_V1, legacy ? ED25519_2020_V1 : MULTIKEY_V1],
    id: did,
    verificationMethod: [{
      id: vmId,
      type: legacy ? 'Ed25519VerificationKey2020' : 'Multikey',
      controller: did,
      publicKeyMultibase: mb
    }],
    authentication: [vmId],
    assertionMethod: [vmId],
    capabilityDelegation: [vmId],
    capabilityInvocation: [vmId]
  };
}

/**
 * Offline document loader: pinned contexts, did:key (document or one of its
 * verification methods), and caller-given controller documents (URL -> doc),
 * e.g. the 1EdTech vector's https://example.edu/issuers/565049.
 */
export function makeDocumentLoader({controllers = {}, didKeyFormat} = {}) {
  const contexts = pinnedContexts();
  const docFor = base => {
    if(base.startsWith('did:key:')) {
      return didKeyDocument(base, didKeyFormat);
    }
    if(Object.hasOwn(controllers, base)) {
      return controllers[base];
    }
    return null;
  };
  return async url => {
    if(contexts.has(url)) {
      return {contextUrl: null, documentUrl: url, document: contexts.get(url)};
    }
    const [base, fragment] = url.split('#', 2);
    const doc = docFor(base);
    if(doc === null) {
      throw new Error(`UNKNOWN_CONTEXT: refusing to load "${url}" ` +
        '(not pinned in contexts/index.json, not a did:key, not a given ' +
        'controller document)');
    }
    if(fragment === undefined) {
      return {contextUrl: null, documentUrl: url, document: doc};
    }
    const vm = (doc.verificationMethod ?? []).find(
      m => m.id === url || m.id === `#${fragment}`);
    if(!vm) {
      throw new Error(`verification method "${url}" not found in "${base}"`);
    }
    return {
      contextUrl: null, documentUrl: url,
      document: {'@context': doc['@context'], ...vm, id: url}
    };
  };
}

/** A stable, JSON-friendly description of a vc-js error. */
export function describeError(error) {
  if(!error) {
    return null;
  }
  const list = Array.isArray(error) ? error : [error];
  const messages = [];
  for(const e of list) {
    if(e && Array.isArray(e.errors) && e.errors.length) {
      for(const inner of e.errors) {
        messages.push(`${inner.name ?? 'Error'}: ${inner.message}`);
      }
    } else if(e) {
      // jsonld.js wraps loader failures; keep the loader's own words
      const cause = e.details?.cause?.message;
      messages.push(`${e.name ?? 'Error'}: ${e.message ?? String(e)}` +
        (cause ? ` (cause: ${cause})` : ''));
    }
  }
  return messages.join('; ');
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Answer the request on stdin, or each of a JSON array of requests (then the
 * answer on stdout is an array in the same order), with `handle`. A request
 * that throws is answered {error}. Returns {badInput: true} when stdin is not
 * JSON or a request is not an object (nothing is written to stdout then),
 * else {failed}: whether some request threw.
 */
export async function answerStdin(handle) {
  let input;
  try {
    input = JSON.parse(await readStdin());
  } catch(e) {
    process.stderr.write(`bad input: not JSON (${e.message})\n`);
    return {badInput: true};
  }
  const batch = Array.isArray(input);
  const answers = [];
  let failed = false;
  for(const request of batch ? input : [input]) {
    if(!request || typeof request !== 'object' || Array.isArray(request)) {
      process.stderr.write('bad input: each request must be an object\n');
      return {badInput: true};
    }
    try {
      answers.push(await handle(request));
    } catch(e) {
      failed = true;
      answers.push({error: describeError(e)});
    }
  }
  process.stdout.write(JSON.stringify(batch ? answers : answers[0]) + '\n');
  return {failed};
}

/** Run `main` (resolving to an exit status) when `moduleUrl` is the script
 * node was started with, not when the module is imported. */
export function runIfMain(moduleUrl, main) {
  if(process.argv[1] && moduleUrl === pathToFileURL(process.argv[1]).href) {
    main().then(code => {
      process.exitCode = code;
    }, e => {
      process.stderr.write(`${e.stack ?? e}\n`);
      process.exitCode = 2;
    });
  }
}
