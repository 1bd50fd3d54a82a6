#!/usr/bin/env bash
# Submits a pipeline as a Slurm job array of N shards and the job commit as a
# job that runs once all of them have succeeded.
#
#   deploy/slurm/submit.sh PIPELINE OUTPUT [SHARDS] [-- extra sluice run arguments]
#
# OUTPUT must be reachable from every node: a shared file system or
# s3://bucket/prefix. SLUICE names the binary if it is not on PATH.
set -euo pipefail
pipeline=$1 output=$2 shards=${3:-4}
shift $(( $# < 3 ? $# : 3 ))
[[ ${1:-} == -- ]] && shift
here=$(cd "$(dirname "$0")" && pwd)
export PIPELINE=$pipeline OUTPUT=$output SLUICE_ARGS="$*"
array=$(sbatch --parsable --export=ALL --array="0-$((shards - 1))" "$here/shards.sbatch")
commit=$(sbatch --parsable --export=ALL --dependency="afterok:${array%%;*}" "$here/commit.sbatch")
echo "shards: $array (array of $shards); commit: $commit"
