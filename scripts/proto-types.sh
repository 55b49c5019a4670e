#!/usr/bin/env bash
# Regenerates services/runtime/src/proto/: TypeScript types of every message, client and service
# definition in services/proto, with @grpc/proto-loader's own generator, using the options loadProto()
# gives the loader (services/runtime/src/grpc.ts), so the types describe exactly the objects the
# services receive and send. npm run proto:types; services/runtime/test/proto-types.test.ts fails when stale.
#   bash scripts/proto-types.sh [<output directory>]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-services/runtime/src/proto}"
rm -rf "$out"
(cd services/proto && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort) | xargs node node_modules/@grpc/proto-loader/build/bin/proto-loader-gen-types.js \
  --longs=Number --enums=String --defaults --oneofs --grpcLib=@grpc/grpc-js --includeComments \
  --importFileExtension=.js -I services/proto -O "$out" >/dev/null
