#!/usr/bin/env node
// VC-JWT with a second JOSE implementation: panva's `jose` (npm), offline.
//
//   node tests/interop/jose.mjs < request(s)   -> answer(s)
//
// request {op: "verify", token, jwk, typ?, issuer?, subject?, now?}
//   -> {verified, protectedHeader, payload} or {verified: false, code}
//   jwtVerify: the signature, `typ`, `iss`/`sub` when given, and `nbf`/`exp`
//   against `now` (ISO date). `code` is jose's error code
//   (ERR_JWS_SIGNATURE_VERIFICATION_FAILED, ERR_JWT_CLAIM_VALIDATION_FAILED, ...).
// request {op: "sign", payload, header, jwk} -> {token}
//   a compact JWS over exactly `payload` with the protected `header`, signed by the
//   private `jwk` (its alg comes from header.alg: EdDSA, ES256, ES384, RS256, PS256).
//
// A JSON array of requests is answered with an array (one node process).
// Exit status: 0 answered, 2 bad usage or input.
import {CompactSign, importJWK, jwtVerify} from 'jose';

globalThis.fetch = async url => {
  throw new Error(`network access refused in interop harness: ${url}`);
};

async function verify({token, jwk, typ, issuer, subject, now}) {
  const key = await importJWK(jwk, jwk.alg ?? algOf(jwk));
  try {
    const {payload, protectedHeader} = await jwtVerify(token, key, {
      typ,
      issuer,
      subject,
      currentDate: now ? new Date(now) : undefined,
      algorithms: ['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256']
    });
    return {verified: true, protectedHeader, payload};
  } catch(e) {
    return {verified: false, code: e.code ?? e.name, message: e.message};
  }
}

function algOf(jwk) {
  if(jwk.kty === 'OKP') {
    return 'EdDSA';
  }
  if(jwk.kty === 'EC') {
    return jwk.crv === 'P-384' ? 'ES384' : 'ES256';
  }
  return 'RS256';
}

async function sign({payload, header, jwk}) {
  const key = await importJWK(jwk, header.alg);
  const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader(header)
    .sign(key);
  return {token};
}

async function answer(request) {
  if(request.op === 'verify') {
    return verify(request);
  }
  if(request.op === 'sign') {
    return sign(request);
  }
  throw new Error(`unknown op ${request.op}`);
}

let input = '';
for await (const chunk of process.stdin) {
  input += chunk;
}
let requests;
try {
  requests = JSON.parse(input);
} catch(e) {
  console.error(`bad input: ${e.message}`);
  process.exit(2);
}
const many = Array.isArray(requests);
const answers = [];
for(const request of many ? requests : [requests]) {
  answers.push(await answer(request));
}
process.stdout.write(JSON.stringify(many ? answers : answers[0]));
