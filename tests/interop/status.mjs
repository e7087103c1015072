#!/usr/bin/env node
// Check a credential's status with Digital Bazaar's own checkers, offline.
//
//   node tests/interop/status.mjs < request(s)   -> answer(s)
//
// request: {credential, lists: {url: signed status list credential},
//           now?: ISO date, didKeyFormat?: "multikey" | "ed25519-2020"}
// Nothing is fetched: the document loader serves the pinned contexts, did:key
// documents, and the list credentials given in `lists` under their URLs.
//
// The checker is chosen by the entries' type:
//   BitstringStatusListEntry -> @digitalbazaar/vc-bitstring-status-list
//   StatusList2021Entry      -> @digitalbazaar/vc-status-list
// answer: {
//   checker: package name,
//   checkStatus: {verified, error, results: [{statusPurpose, statusListIndex,
//                 verified, status}]},      // the package's checkStatus, as is
//   revoked: bool | null, suspended: bool | null,  // read from the results
//   verifyCredential: {verified, proofsVerified, statusVerified, error}
//                                           // vc.verifyCredential + checkStatus
// }
// For entries with statusSize > 1 (purpose "message") the answer also has
//   multiBit: [{statusPurpose, statusListIndex, statusSize, value, message,
//               listLength}]
// read with the package's own decoder (decodeList, getStatus per bit at
// statusListIndex * statusSize, most significant bit first): the packages
// verify the list credential but read one bit at statusListIndex, so the
// value is composed here from their bits.
// The two packages report differently: vc-status-list (SL2021) answers
// `verified: false` for a set bit; vc-bitstring-status-list answers
// `verified: true` (the check ran) with `status: true` per entry. For the
// whole-credential verification a set bit fails in both cases, as a verifier
// must (vc.verifyCredential fails when checkStatus is not verified).
//
// A JSON array of requests is answered with an array (one node process).
// Exit status: 0 answered, 2 bad usage or input.
import * as vc from '@digitalbazaar/vc';
import * as bsl from '@digitalbazaar/vc-bitstring-status-list';
import * as sl2021 from '@digitalbazaar/vc-status-list';

import {
  answerStdin, describeError, makeDocumentLoader, runIfMain, verifyingSuites
} from './lib.mjs';

// A package's checkStatus, with its per-entry results in one form:
// {statusPurpose, statusListIndex, verified, status}, where `isSet` reads from
// the package's own entry result whether the entry's bit is set.
function packageChecker(name, checkStatus, isSet) {
  return {
    name,
    async check(options) {
      const result = await checkStatus(options);
      const results = (result.results ?? []).map(r => ({
        statusPurpose: r.credentialStatus?.statusPurpose,
        statusListIndex: r.credentialStatus?.statusListIndex,
        verified: r.verified,
        status: isSet(r)
      }));
      return {verified: result.verified, error: result.error, results};
    },
    failsOn: r => r.status === true
  };
}

const CHECKERS = {
  // a set bit is reported as `status: true` in a verified check
  BitstringStatusListEntry: packageChecker(
    '@digitalbazaar/vc-bitstring-status-list', bsl.checkStatus,
    r => Boolean(r.status)),
  // a set bit is reported as `verified: false` for that entry
  StatusList2021Entry: packageChecker(
    '@digitalbazaar/vc-status-list', sl2021.checkStatus, r => !r.verified)
};

function entryType(credential) {
  const status = credential.credentialStatus;
  const entries = Array.isArray(status) ? status : [status];
  const types = new Set(entries.map(e => e?.type));
  if(types.size !== 1) {
    throw new Error(`expected one status entry type, got ${[...types]}`);
  }
  const [type] = types;
  if(!Object.hasOwn(CHECKERS, type)) {
    throw new Error(`no Digital Bazaar checker for status type "${type}"`);
  }
  return type;
}

async function multiBit(credential, lists) {
  const status = credential.credentialStatus;
  const out = [];
  for(const e of Array.isArray(status) ? status : [status]) {
    if(!(Number.isInteger(e?.statusSize) && e.statusSize > 1)) {
      continue;
    }
    const slc = lists[e.statusListCredential];
    const list = await bsl.decodeList(
      {encodedList: slc.credentialSubject.encodedList});
    const start = parseInt(e.statusListIndex, 10) * e.statusSize;
    let value = 0;
    for(let k = 0; k < e.statusSize; k++) {
      value = (value << 1) | (list.getStatus(start + k) ? 1 : 0);
    }
    const hex = '0x' + value.toString(16);
    const named = (e.statusMessage ?? []).find(m => m.status === hex);
    out.push({
      statusPurpose: e.statusPurpose,
      statusListIndex: e.statusListIndex,
      statusSize: e.statusSize,
      value,
      message: named ? named.message : null,
      listLength: list.length
    });
  }
  return out;
}

function bit(results, purpose) {
  const hit = results.find(r => r.statusPurpose === purpose);
  return hit === undefined ? null : hit.status;
}

export async function checkOne(request) {
  const {credential, lists = {}, now, didKeyFormat} = request;
  if(!credential || typeof credential !== 'object') {
    throw new Error('"credential" must be an object');
  }
  const checker = CHECKERS[entryType(credential)];
  // the list credentials are served by the loader, like controller documents
  const documentLoader = makeDocumentLoader({controllers: lists, didKeyFormat});
  const suite = verifyingSuites();
  const status = await checker.check({credential, documentLoader, suite});
  const results = status.results;
  const verification = await vc.verifyCredential({
    credential,
    suite,
    documentLoader,
    now: now ? new Date(now) : undefined,
    async checkStatus(options) {
      const r = await checker.check(options);
      if(!r.verified) {
        return r;
      }
      const failing = r.results.filter(checker.failsOn);
      return failing.length ? {
        verified: false,
        error: new Error('status set: ' +
          failing.map(f => f.statusPurpose).join(', '))
      } : r;
    }
  });
  const statusResult = verification.statusResult;
  let error = verification.error ?? statusResult?.error;
  if(!error && statusResult && !statusResult.verified) {
    const set = (statusResult.results ?? []).filter(r => !r.verified);
    error = new Error('status set: ' + set.map(
      r => r.credentialStatus?.statusPurpose ?? r.statusPurpose).join(', '));
  }
  if(!verification.verified && !error) {
    error = (verification.results ?? []).map(r => r.error).filter(Boolean);
  }
  return {
    checker: checker.name,
    multiBit: await multiBit(credential, lists),
    checkStatus: {
      verified: Boolean(status.verified),
      error: describeError(status.error),
      results
    },
    revoked: bit(results, 'revocation'),
    suspended: bit(results, 'suspension'),
    verifyCredential: {
      verified: Boolean(verification.verified),
      // the proofs verified: a failure, if any, is the status check's
      proofsVerified: (verification.results ?? []).length > 0 &&
        verification.results.every(r => r.verified),
      statusVerified: statusResult ? Boolean(statusResult.verified) : null,
      error: verification.verified ? null :
        (describeError(error) || 'not verified')
    }
  };
}

async function main() {
  const {badInput} = await answerStdin(checkOne);
  return badInput ? 2 : 0;
}

runIfMain(import.meta.url, main);
