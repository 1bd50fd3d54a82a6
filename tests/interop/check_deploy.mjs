// Checks the deployments in deploy/ without a cluster or a cloud account:
// the Kubernetes Jobs against the API's own schemas (kubernetes-models:
// types, enums, required fields), and every deployment for what sluice's
// shards need of it: --shard auto --resume, the shard count the scheduler
// does not pass, no retry of exit codes 2 and 4, the commit after the
// shards, on the same output. Prints what it checked; exits 1 on the first
// problem, naming file and field.
//
//   node tests/interop/check_deploy.mjs DEPLOY_DIR
import { readFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import { Job } from "kubernetes-models/batch/v1/Job";

const dir = process.argv[2];
let problems = 0;
function check(ok, file, what) {
  if (!ok) {
    console.error(`${file}: ${what}`);
    problems++;
  }
}

// The value after `flag` in an argument list.
const after = (args, flag) => (args.indexOf(flag) >= 0 ? args[args.indexOf(flag) + 1] : undefined);

function kubernetesJob(file) {
  const docs = yaml.loadAll(readFileSync(join(dir, file), "utf8"));
  check(docs.length === 1, file, "expected one object");
  const job = docs[0];
  try {
    new Job(job).validate();
  } catch (e) {
    check(false, file, `not a valid batch/v1 Job: ${e.message}`);
  }
  const pod = job.spec.template.spec;
  const container = pod.containers.find((c) => c.name === "sluice");
  check(container !== undefined, file, "spec.template.spec.containers: no container named sluice");
  check(pod.restartPolicy === "Never", file, "restartPolicy must be Never (a podFailurePolicy needs it)");
  const fatal = (job.spec.podFailurePolicy?.rules ?? []).find(
    (r) => (r.action === "FailIndex" || r.action === "FailJob") && r.onExitCodes?.operator === "In",
  );
  check(
    fatal && fatal.onExitCodes.containerName === "sluice" && [2, 4].every((c) => fatal.onExitCodes.values.includes(c)),
    file,
    "podFailurePolicy: exit codes 2 and 4 must fail without a retry",
  );
  return { job, args: container?.args ?? [], env: container?.env ?? [] };
}

let before = problems;
const shards = kubernetesJob("kubernetes/job.yaml");
check(shards.job.spec.completionMode === "Indexed", "kubernetes/job.yaml", "completionMode must be Indexed");
check(shards.job.spec.backoffLimitPerIndex >= 1, "kubernetes/job.yaml", "backoffLimitPerIndex: retry an index");
check(shards.args[0] === "run", "kubernetes/job.yaml", "args: expected sluice run");
check(after(shards.args, "--shard") === "auto", "kubernetes/job.yaml", "args: expected --shard auto");
check(shards.args.includes("--resume"), "kubernetes/job.yaml", "args: a retried pod must --resume");
const count = shards.env.find((e) => e.name === "SLUICE_SHARD_COUNT");
check(
  count && Number(count.value) === shards.job.spec.completions,
  "kubernetes/job.yaml",
  "env SLUICE_SHARD_COUNT must equal spec.completions (Kubernetes does not export the count)",
);
const commit = kubernetesJob("kubernetes/commit-job.yaml");
check(commit.args[0] === "commit", "kubernetes/commit-job.yaml", "args: expected sluice commit");
check(
  commit.args[1] === after(shards.args, "--output"),
  "kubernetes/commit-job.yaml",
  "commits another output than job.yaml writes",
);
if (problems === before) console.log("kubernetes: job.yaml and commit-job.yaml are valid batch/v1 Jobs, shards and commit agree");

function batchDefinition(file) {
  const d = JSON.parse(readFileSync(join(dir, file), "utf8"));
  const rules = d.retryStrategy?.evaluateOnExit ?? [];
  check(rules.length <= 5, file, "evaluateOnExit: at most 5 rules");
  const firstFor = (code) => rules.find((r) => r.onExitCode !== undefined && new RegExp(`^${r.onExitCode.replace("*", ".*")}$`).test(code));
  check(firstFor("2")?.action === "EXIT" && firstFor("4")?.action === "EXIT", file, "exit codes 2 and 4 must EXIT");
  check(firstFor("1")?.action !== "EXIT" && firstFor("143")?.action !== "EXIT", file, "exit codes 1 and 143 must be retried");
  check(d.retryStrategy.attempts >= 2 && d.retryStrategy.attempts <= 10, file, "retryStrategy.attempts: 2 to 10");
  return d;
}
before = problems;
const run = batchDefinition("aws-batch/job-definition.json");
const cmd = run.containerProperties.command;
check(after(cmd, "--shard") === "auto" && cmd.includes("--resume"), "aws-batch/job-definition.json", "command: --shard auto --resume");
const batchCommit = batchDefinition("aws-batch/commit-job-definition.json");
check(batchCommit.containerProperties.command[0] === "commit", "aws-batch/commit-job-definition.json", "command: sluice commit");
const submit = readFileSync(join(dir, "aws-batch/submit.sh"), "utf8");
check(submit.includes("--array-properties") && submit.includes("--depends-on"), "aws-batch/submit.sh", "an array, then a commit depending on it");
if (problems === before) console.log("aws-batch: job definitions retry all but 2 and 4; the commit depends on the array");

before = problems;
const sbatch = readFileSync(join(dir, "slurm/shards.sbatch"), "utf8");
check(/--shard auto --resume/.test(sbatch), "slurm/shards.sbatch", "sluice run --shard auto --resume");
check(/#SBATCH --requeue/.test(sbatch), "slurm/shards.sbatch", "#SBATCH --requeue");
const slurmSubmit = readFileSync(join(dir, "slurm/submit.sh"), "utf8");
check(/--dependency="afterok:/.test(slurmSubmit), "slurm/submit.sh", "the commit after the array (afterok)");
if (problems === before) console.log("slurm: an array that requeues and resumes, the commit afterok");

process.exit(problems ? 1 : 0);
