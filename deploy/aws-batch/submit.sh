#!/usr/bin/env bash
# Submits the reference pipeline to AWS Batch as an array job of N shards,
# then the job commit as a job that depends on the whole array (it starts
# once every child has succeeded). Each child is one attempt at the shard
# AWS_BATCH_JOB_ARRAY_INDEX names (`--shard auto`); exit 2 and 4 are not
# retried (job-definition.json's evaluateOnExit), the rest are, and a
# retried child carries on where its last attempt got (`--resume`).
#
#   aws batch register-job-definition --cli-input-json file://deploy/aws-batch/job-definition.json
#   aws batch register-job-definition --cli-input-json file://deploy/aws-batch/commit-job-definition.json
#   deploy/aws-batch/submit.sh QUEUE s3://my-bucket/features/item-features/2026-11-30/ [SHARDS]
set -euo pipefail
queue=$1 output=$2 shards=${3:-4}
array=$(aws batch submit-job --job-name item-features --job-queue "$queue" \
  --job-definition sluice-item-features --array-properties "size=$shards" \
  --parameters "output=$output" --query jobId --output text)
commit=$(aws batch submit-job --job-name item-features-commit --job-queue "$queue" \
  --job-definition sluice-commit --depends-on "jobId=$array" \
  --parameters "output=$output" --query jobId --output text)
echo "shards: $array (array of $shards); commit: $commit"
