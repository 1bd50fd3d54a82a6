#!/usr/bin/env bash
# Writes the sluice(1) manual page: the commands and their options as the
# built binary's --help gives them (so the page cannot drift from the code),
# around the environment and exit status written here.
#   scripts/manpage.sh build/release/src/sluice [OUT]    # OUT: else standard output
# The build runs it (src/CMakeLists.txt) and `cmake --install` puts the page
# in share/man/man1.
set -euo pipefail
sluice=$1
if [[ $# -ge 2 ]]; then
  "$0" "$sluice" >"$2.tmp"
  mv "$2.tmp" "$2"
  exit 0
fi
version=$("$sluice" --version)

# Text as roff shows it verbatim: backslashes doubled, a leading . or ' escaped.
verbatim() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }

cat <<EOF
.TH SLUICE 1 "" "$version" "User Commands"
.SH NAME
sluice \\- data pipelines heavy on both I/O and CPU
.SH SYNOPSIS
.B sluice
[\\fB\\-\\-log\\-format\\fR \\fItext|json\\fR] [\\fB\\-\\-log\\-level\\fR \\fIlevel\\fR] \\fIcommand\\fR [\\fIoptions\\fR]
.SH DESCRIPTION
.B sluice
runs a pipeline described by one YAML file: records read from CSV or JSON Lines files,
requests to HTTP APIs for each (bounded, pooled, retried), a join against datasets
loaded up front, expressions evaluated on a CPU pool, and Parquet files written to a
directory or to S3, with an exact account of every record.
.B sluice run
does a batch,
.B sluice stream
and
.B sluice serve
answer records one at a time, and a job too big for one machine runs as shards
.RB ( "run \\-\\-shard" ,
then
.BR "sluice commit" ).
The pipeline file's reference is docs/pipeline.md in the source tree.
.PP
Logs go to standard error, a line per event with its time, level, run id and shard;
the options
.B \\-\\-log\\-format
and
.B \\-\\-log\\-level
go before or after the command's name.
.SH COMMANDS
EOF

# The commands as the top-level help lists them, each with its own help.
"$sluice" --help | sed -n '/^Subcommands:/,$p' | tail -n +2 | while read -r name description; do
  [[ -n $name ]] || continue
  echo ".SS $name"
  echo "$description" | verbatim
  echo ".PP"
  echo ".nf"
  "$sluice" "$name" --help | tail -n +2 | sed 's|^Usage: [^ ]*|Usage: sluice|' | verbatim
  echo ".fi"
done

cat <<'EOF'
.SH ENVIRONMENT
.TP
.BR SLUICE_LOG_FORMAT ", " SLUICE_LOG_LEVEL
Stand for \-\-log\-format and \-\-log\-level.
.TP
.B SLUICE_CPU_THREADS
Threads of the CPU pool when \-\-cpu\-threads is 0 (default: the cores less the I/O threads).
.TP
.B SLUICE_SHARD_COUNT
With \-\-shard auto on a Kubernetes Indexed Job: the Job's completions
(JOB_COMPLETION_INDEX gives the index). AWS Batch arrays
(AWS_BATCH_JOB_ARRAY_INDEX, AWS_BATCH_JOB_ARRAY_SIZE, AWS_BATCH_JOB_ATTEMPT) and Slurm
arrays (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT,
SLURM_RESTART_COUNT) are read as the schedulers set them.
.TP
.B SLUICE_UPLOAD_JOURNAL
Where S3 uploads in progress are recorded (default $XDG_STATE_HOME/sluice/uploads,
else ~/.local/state/sluice/uploads).
.TP
.BR AWS_ENDPOINT_URL_S3 ", " AWS_ENDPOINT_URL ", " AWS_ENDPOINT_URL_STS
An S3-compatible service, and STS.
.TP
.BR AWS_REGION ", " AWS_DEFAULT_REGION
The region (else the profile's, else us-east-1).
.TP
AWS credentials
The first source configured: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
AWS_SESSION_TOKEN; AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN (and
AWS_ROLE_SESSION_NAME); the profile AWS_PROFILE of AWS_SHARED_CREDENTIALS_FILE and
AWS_CONFIG_FILE (role_arn, keys or credential_process);
AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI with
AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or _TOKEN; the EC2 instance metadata service
(AWS_EC2_METADATA_SERVICE_ENDPOINT; AWS_EC2_METADATA_DISABLED=true skips it).
.SH EXIT STATUS
.TP
.B 0
The whole input done; every record written, filtered or not joined.
.TP
.B 1
Failed for a reason a retry may get past (an API or store down, a timeout); what was
finished is committed and \-\-resume carries on.
.TP
.B 2
The pipeline file or the command line is wrong.
.TP
.B 3
The whole input done, with records dead-lettered.
.TP
.B 4
Failed for a reason a retry cannot fix (credentials refused, a bucket or file
missing, an output holding another run, a changed input under \-\-resume).
.TP
.BR 130 ", " 143
Stopped by SIGINT or SIGTERM, after committing what was finished.
.SH SEE ALSO
docs/pipeline.md and the README in sluice's source tree.
EOF
