# Sourced by the fetch scripts: need TOOL PACKAGE [HINT] makes sure the
# command TOOL exists, installing the Debian package PACKAGE with apt-get
# when run as root; otherwise it says what to install (and HINT) and exits.
# The caller sets who (its name, for the messages).
need() {
  command -v "$1" >/dev/null && return
  if [[ $(id -u) == 0 ]]; then
    echo "$who: installing $2 with apt-get" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  else
    echo "$who: $1 is missing: install the Debian package $2${3:+ $3}" >&2
    exit 1
  fi
}
