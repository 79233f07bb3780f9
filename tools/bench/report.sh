#!/usr/bin/env bash
# Turns a benchmark CSV (round,setup,metric,value,unit) into a markdown table: per setup
# and metric min / median / max over the rounds, and the median over rounds of the
# per-round ratio to the limit and to bridge (ratios taken within a round, so slow drift
# of the machine cancels). Usage: [REPORT_REFS="limit bridge"] report.sh results.csv
# (REPORT_REFS: the setups to compare against, one ratio column each, when present).
set -euo pipefail
csv=$1

median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# 3 significant digits, but whole numbers from 1000 up (no exponents in the table).
number() { awk -v v="$1" 'BEGIN {if (v >= 1000) printf "%d", v + 0.5; else printf "%.3g", v}'; }

column_values() { # setup metric -> values, one per line
  awk -F, -v s="$1" -v m="$2" 'NR > 1 && $2 == s && $3 == m {print $4}' "$csv"
}

ratios() { # setup metric reference -> per-round value/reference
  awk -F, -v s="$1" -v m="$2" -v r="$3" '
    NR > 1 && $3 == m && $2 == s {v[$1] = $4}
    NR > 1 && $3 == m && $2 == r {ref[$1] = $4}
    END {for (k in v) if ((k in ref) && ref[k] != 0) printf "%.4f\n", v[k] / ref[k]}' "$csv"
}

in_order() { # column -> distinct values in order of appearance
  awk -F, -v c="$1" 'NR > 1 && !seen[$c]++ {print $c}' "$csv"
}

mapfile -t setups < <(in_order 2)
mapfile -t metrics < <(in_order 3)
rounds=$(in_order 1 | wc -l)
has() { printf '%s\n' "${setups[@]}" | grep -qx "$1"; }

read -ra refs <<<"${REPORT_REFS:-limit bridge}"
present_refs=()
for ref in "${refs[@]}"; do has "$ref" && present_refs+=("$ref"); done
header="| metric | setup | rounds | min | median | max |" rule="|---|---|---:|---:|---:|---:|"
for ref in "${present_refs[@]}"; do header+=" × $ref |" rule+="---:|"; done
echo "$header"
echo "$rule"
for metric in "${metrics[@]}"; do
  unit=$(awk -F, -v m="$metric" 'NR > 1 && $3 == m {print $5; exit}' "$csv")
  for setup in "${setups[@]}"; do
    sorted=$(column_values "$setup" "$metric" | sort -g)
    [[ -n $sorted ]] || continue
    min=$(head -n1 <<<"$sorted")
    max=$(tail -n1 <<<"$sorted")
    med=$(median <<<"$sorted")
    row=$(printf '| %s (%s) | %s | %s | %s | %s | %s |' "$metric" "$unit" "$setup" \
      "$(wc -l <<<"$sorted")" "$(number "$min")" "$(number "$med")" "$(number "$max")")
    for ref in "${present_refs[@]}"; do
      ratio=-
      [[ $setup == "$ref" ]] || ratio=$(ratios "$setup" "$metric" "$ref" | median)
      [[ $ratio == - ]] || ratio=$(printf '%.2f' "$ratio")
      row+=" $ratio |"
    done
    echo "$row"
  done
done
echo
echo "$rounds interleaved rounds; ratios are medians of per-round ratios."
