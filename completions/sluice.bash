# bash completion for sluice: its commands, each command's options, the
# values of the options that take one of a few, and files where a command
# takes one. Installed to share/bash-completion/completions/sluice; or
# source it from ~/.bashrc. tests/install checks it against `sluice CMD --help`.

_sluice_commands="run validate stream serve commit status inspect demo mock-api"
_sluice_global="--log-format --log-level --help --version"

_sluice_options() {
  case "$1" in
    run) echo "--set --limit --output --shard --resume --quiet --summary-json --metrics-file --metrics-push
               --metrics-interval --metrics-addr --io-threads --cpu-threads --grace" ;;
    validate) echo "--set --offline" ;;
    stream) echo "--set --quiet --ordered --summary-json --io-threads --cpu-threads --grace" ;;
    serve) echo "--set --listen --max-body-bytes --max-records --read-timeout-ms --quiet --summary-json --io-threads
                 --cpu-threads --grace" ;;
    commit | status) echo "--name" ;;
    inspect) echo "--rows" ;;
    demo) echo "--records --latency-us --in-flight --cpu-threads" ;;
    mock-api) echo "--address --port --threads --latency-ms --jitter-ms --max-id --pad-bytes --gzip --fault-500
                    --fault-429 --fault-malformed --fault-truncated --fault-slow --fault-close --retry-after
                    --max-faults-per-path --seed --fail-ids-every --outage-after --outage-ms --outage-close
                    --write-data --records" ;;
  esac
}

_sluice() {
  local cur prev command="" i
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD - 1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      --log-format | --log-level) ((i++)) ;;
      -*) ;;
      *)
        command="${COMP_WORDS[i]}"
        break
        ;;
    esac
  done

  case "$prev" in
    --log-format)
      mapfile -t COMPREPLY < <(compgen -W "text json" -- "$cur")
      return
      ;;
    --log-level)
      mapfile -t COMPREPLY < <(compgen -W "debug info warn error" -- "$cur")
      return
      ;;
    --shard)
      mapfile -t COMPREPLY < <(compgen -W "auto" -- "$cur")
      return
      ;;
    --output | --summary-json | --metrics-file | --write-data)
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return
      ;;
    --set | --limit | --metrics-push | --metrics-interval | --metrics-addr | --io-threads | --cpu-threads | --grace | \
      --listen | --max-body-bytes | --max-records | --read-timeout-ms | --name | --rows | --records | --latency-us | \
      --in-flight | --address | --port | --threads | --latency-ms | --jitter-ms | --max-id | --pad-bytes | --fault-* | \
      --retry-after | --max-faults-per-path | --seed | --fail-ids-every | --outage-after | --outage-ms)
      return # a value of the user's own
      ;;
  esac

  if [[ -z "$command" ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$_sluice_commands $_sluice_global" -- "$cur")
    return
  fi
  if [[ "$cur" == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_sluice_options "$command") $_sluice_global" -- "$cur")
    return
  fi
  case "$command" in
    run | validate | stream | serve)
      mapfile -t COMPREPLY < <(compgen -G "${cur}*.yaml"; compgen -G "${cur}*.yml"; compgen -d -- "$cur")
      ;;
    inspect)
      mapfile -t COMPREPLY < <(compgen -G "${cur}*.parquet"; compgen -d -- "$cur")
      ;;
    commit | status)
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      ;;
  esac
}

complete -o filenames -F _sluice sluice
