#!/usr/bin/env node
// Sign and verify with Digital Bazaar's vc-js, offline, JSON over stdin/stdout.
//
//   node tests/interop/vcjs.mjs sign   < request(s)   -> signed credential(s)
//   node tests/interop/vcjs.mjs verify < request(s)   -> {verified, error}
//   node tests/interop/vcjs.mjs derive < request(s)   -> derived credential(s)
//
// stdin holds one request object, or a JSON array of them (one node process
// then serves a whole batch, and the answer is an array in the same order).
//
// sign request:   {credential, key: {publicKeyMultibase, secretKeyMultibase
//                  | privateKeyMultibase | privateKeyHex, [id, controller]},
//                  suite: "eddsa-rdfc-2022" | "Ed25519Signature2020" |
//                    "eddsa-jcs-2022" | "ecdsa-rdfc-2019" | "ecdsa-jcs-2019" |
//                    "ecdsa-sd-2023" (key: P-256/P-384 Multikey JSON),
//                  mandatoryPointers?: [JSON pointer] (ecdsa-sd-2023),
//                  created?: ISO date, controllers?: {url: doc},
//                  didKeyFormat?: "multikey" | "ed25519-2020"}
//   answer: the signed credential, or {error} when vc-js refuses to sign.
// verify request: {credential, now?: ISO date, controllers?, didKeyFormat?}
//   answer: {verified, error, statusChecked}. `credentialStatus` is NOT
//   checked here (statusChecked: false): only proofs, purpose and dates.
// derive request: {credential (with an ecdsa-sd-2023 base proof),
//                  selectivePointers: [JSON pointer], controllers?}
//   answer: the derived credential, or {error}.
//
// Exit status: 0 answered (even "not verified"), 1 some sign request failed,
// 2 bad usage or input.
import * as vc from '@digitalbazaar/vc';

import {
  answerStdin, describeError, disclosingSuite, makeDocumentLoader, runIfMain,
  signingSuite, verifyingSuites
} from './lib.mjs';

export async function signOne(request) {
  const {
    credential, key, suite, created, controllers, didKeyFormat,
    mandatoryPointers
  } = request;
  if(!credential || typeof credential !== 'object') {
    throw new Error('"credential" must be an object');
  }
  if(!key || typeof key !== 'object') {
    throw new Error('"key" must be an object');
  }
  const documentLoader = makeDocumentLoader({controllers, didKeyFormat});
  return vc.issue({
    credential: structuredClone(credential),
    suite: await signingSuite({suite, key, created, mandatoryPointers}),
    documentLoader,
    // issuance of back-dated / future vectors must not be refused
    now: created
  });
}

export async function verifyOne(request) {
  const {credential, now, controllers, didKeyFormat} = request;
  const documentLoader = makeDocumentLoader({controllers, didKeyFormat});
  const result = await vc.verifyCredential({
    credential,
    suite: verifyingSuites(),
    documentLoader,
    now,
    checkStatus: async () => ({verified: true})
  });
  let error = result.error;
  if(!result.verified && !error) {
    error = (result.results ?? []).map(r => r.error).filter(Boolean);
  }
  return {
    verified: Boolean(result.verified),
    error: result.verified ? null : (describeError(error) || 'not verified'),
    statusChecked: false
  };
}

export async function deriveOne(request) {
  const {credential, selectivePointers, controllers, didKeyFormat} = request;
  const documentLoader = makeDocumentLoader({controllers, didKeyFormat});
  return vc.derive({
    verifiableCredential: structuredClone(credential),
    suite: disclosingSuite({selectivePointers}),
    documentLoader
  });
}

async function main() {
  const command = process.argv[2];
  const handlers = {sign: signOne, verify: verifyOne, derive: deriveOne};
  if(!Object.hasOwn(handlers, command)) {
    process.stderr.write(
      'usage: node vcjs.mjs sign|verify|derive < request.json\n');
    return 2;
  }
  const {badInput, failed} = await answerStdin(handlers[command]);
  if(badInput) {
    return 2;
  }
  return command !== 'verify' && failed ? 1 : 0;
}

runIfMain(import.meta.url, main);
