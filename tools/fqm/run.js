#!/usr/bin/env node
// Runs fqm-execution (the reference CQL engine) over a FHIR NDJSON export, patient by patient.
//
//   node tools/fqm/run.js --content DIR --data DIR --out FILE
//        --start 2025-01-01 --end 2025-12-31 --measure LIBRARY [--measure LIBRARY ...]
//
// --content is a published eCQM content folder laid out like
// ../shared/conformance/ecqm-qicore-2024: measures/<Library>.json (the FHIR Measure),
// libraries/*.json (FHIR Libraries holding the ELM) and valuesets/*.json (expanded ValueSets).
// The measure bundle is the Measure, every Library and every ValueSet of that folder. One
// published ValueSet carries an https canonical where the logic names http: ValueSet urls are
// read as http so that the logic finds them (the content is not changed on disk).
//
// --data is the output of `tandem synth --format fhir` (or any Bulk Data NDJSON export): the
// resources are grouped into one Bundle per Patient by their patient reference (subject,
// patient, beneficiary, for), and patients are evaluated in chunks.
//
// meta.profile is trusted (fqm-execution's default, trustMetaProfile): a resource reaches a
// QI-Core retrieve only when it claims that profile, as a conformant QI-Core server's would.
//
// The output is JSON: {"engine", "period", "measures": {LIBRARY: {"groups": [ids],
// "patients": {PATIENT: [{"id", "populations": {code: 0|1}, "episodes": {code: count}}]},
// "errors": [...] }}}. "episodes" is present for episode-of-care (Encounter-basis) groups only.

'use strict';

// Dates without an offset (the measurement period) are read in the process's time zone: UTC,
// as Tandem stores times.
process.env.TZ = 'UTC';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const { Calculator } = require('fqm-execution');
// The function fqm-execution's Calculator.calculate turns a patient's raw statement results into
// its population results with (proportion hierarchy, episodes of care). Calling it on
// Calculator.calculateRaw's results gives the same populations without the clause-level
// results calculate() also builds for highlighting (a quarter of its time); the version is
// pinned, so this internal module is the one calculate() uses.
const { createPopulationValues } = require('fqm-execution/build/calculation/DetailedResultsBuilder');

const CHUNK = 250;
const PATIENT_REFERENCES = ['subject', 'patient', 'beneficiary', 'for'];
const VSAC_HTTPS = 'https://cts.nlm.nih.gov/fhir/ValueSet/';
const VSAC_HTTP = 'http://cts.nlm.nih.gov/fhir/ValueSet/';

function parseArgs(argv) {
  const args = { measure: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    if (name === 'measure') args.measure.push(value);
    else args[name] = value;
  }
  for (const required of ['content', 'data', 'out', 'start', 'end']) {
    if (!args[required]) throw new Error(`--${required} is required`);
  }
  if (args.measure.length === 0) throw new Error('at least one --measure LIBRARY is required');
  return args;
}

function readJsonDir(dir) {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
}

function contentResources(content) {
  const libraries = readJsonDir(path.join(content, 'libraries'));
  const valueSets = readJsonDir(path.join(content, 'valuesets')).map((vs) =>
    vs.url && vs.url.startsWith(VSAC_HTTPS)
      ? { ...vs, url: VSAC_HTTP + vs.url.slice(VSAC_HTTPS.length) }
      : vs
  );
  return [...libraries, ...valueSets];
}

function measureBundle(content, library, shared) {
  const file = path.join(content, 'measures', `${library}.json`);
  const measure = JSON.parse(fs.readFileSync(file, 'utf8'));
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [measure, ...shared].map((resource) => ({ resource })),
  };
}

function patientOf(resource) {
  if (resource.resourceType === 'Patient') return resource.id;
  for (const name of PATIENT_REFERENCES) {
    const ref = resource[name] && resource[name].reference;
    if (typeof ref === 'string' && ref.startsWith('Patient/')) return ref.slice(8);
  }
  return null;
}

async function readPatients(dir) {
  const byPatient = new Map();
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ndjson')).sort();
  for (const file of files) {
    const lines = readline.createInterface({
      input: fs.createReadStream(path.join(dir, file)),
      crlfDelay: Infinity,
    });
    for await (const line of lines) {
      if (!line.trim()) continue;
      const resource = JSON.parse(line);
      const pid = patientOf(resource);
      if (pid === null) continue; // Organization, Practitioner: not in a patient's compartment
      if (!byPatient.has(pid)) byPatient.set(pid, []);
      byPatient.get(pid).push(resource);
    }
  }
  const bundles = [];
  for (const [pid, resources] of byPatient) {
    // The Patient first: cql-exec-fhir takes the bundle's first Patient as its subject.
    resources.sort((a, b) => (a.resourceType === 'Patient' ? -1 : b.resourceType === 'Patient'));
    bundles.push({
      resourceType: 'Bundle',
      id: pid,
      type: 'collection',
      entry: resources.map((resource) => ({ resource })),
    });
  }
  return bundles;
}

function counts(populationResults) {
  const out = {};
  for (const p of populationResults || []) {
    out[p.populationType] = (out[p.populationType] || 0) + (p.result ? 1 : 0);
  }
  return out;
}

function groupResult(detail) {
  const group = { id: detail.groupId, populations: counts(detail.populationResults) };
  if (detail.episodeResults) {
    const episodes = {};
    for (const e of detail.episodeResults) {
      for (const [code, n] of Object.entries(counts(e.populationResults))) {
        episodes[code] = (episodes[code] || 0) + n;
      }
    }
    group.episodes = episodes;
  }
  return group;
}

async function runMeasure(bundle, patients, options) {
  const measure = bundle.entry[0].resource;
  const result = { groups: measure.group.map((g) => g.id), patients: {}, errors: [] };
  for (let i = 0; i < patients.length; i += CHUNK) {
    const chunk = patients.slice(i, i + CHUNK);
    const { results } = await Calculator.calculateRaw(bundle, chunk, options);
    for (const [pid, statements] of Object.entries(results.patientResults)) {
      result.patients[pid] = measure.group.map((group) =>
        groupResult(createPopulationValues(measure, group, statements))
      );
    }
  }
  return result;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const options = {
    measurementPeriodStart: args.start,
    measurementPeriodEnd: args.end,
    trustMetaProfile: true,
    calculateHTML: false,
    calculateSDEs: false,
    calculateClauseCoverage: false,
    verboseCalculationResults: false,
  };
  const shared = contentResources(args.content);
  const patients = await readPatients(args.data);
  const version = require('fqm-execution/package.json').version;
  const out = {
    engine: `fqm-execution ${version}`,
    period: [args.start, args.end],
    patients: patients.length,
    measures: {},
  };
  for (const library of args.measure) {
    const began = Date.now();
    out.measures[library] = await runMeasure(measureBundle(args.content, library, shared), patients, options);
    out.measures[library].seconds = (Date.now() - began) / 1000;
    // Written after each measure: a long run that is stopped keeps the measures it finished.
    fs.writeFileSync(args.out, JSON.stringify(out));
    process.stderr.write(`fqm runner: ${library} done in ${out.measures[library].seconds} s\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\nfqm runner: ${err.message || err}\n`);
  process.exit(1);
});
