# Helpers for running the setup wizard under Xvfb (sourced by scripts/screenshots and
# scripts/bench-wizard, not run). Processes started here are stopped by their own ids.
# shellcheck shell=bash

XVFB_PID=""
APP_PID=""

# Start Xvfb on a free display with a screen of WIDTHxHEIGHT; sets DISPLAY and XVFB_PID.
start_xvfb() {
    local size=$1 n
    for n in $(seq 140 240); do
        [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] && continue
        Xvfb ":$n" -screen 0 "${size}x24" -br -nolisten tcp >/dev/null 2>&1 &
        XVFB_PID=$!
        for _ in $(seq 100); do
            [ -e "/tmp/.X11-unix/X$n" ] && { export DISPLAY=":$n"; return 0; }
            sleep 0.05
        done
        kill "$XVFB_PID" 2>/dev/null || true
    done
    echo "error: could not start Xvfb" >&2
    return 1
}

stop_all() {
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null || true
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true
    wait 2>/dev/null || true
}

# The wizard's window id (waits for it); its title is translated, "EAS Connector" is in all.
wizard_window() {
    timeout 20 xdotool search --sync --name "EAS Connector" | head -1
}

# Wait until the window title ends with "$1" (at most ${2:-10} s).
wait_page() {
    local page=$1 limit=${2:-10} i
    for i in $(seq $((limit * 10))); do
        case "$(xdotool getwindowname "$WIN" 2>/dev/null)" in *"$page") return 0 ;; esac
        sleep 0.1
    done
    echo "warning: page '$page' not reached (title: $(xdotool getwindowname "$WIN"))" >&2
    return 1
}

press() {
    xdotool windowfocus --sync "$WIN"
    xdotool key --clearmodifiers "$@"
    sleep 0.25
}
