# Two commands for a newcomer on a fresh machine (see README.md):
#   make demo   install, enhance a bundled dark noisy sample, show it (or write it)
#   make test   install system + test dependencies, run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PIP := $(VENV)/bin/python -m pip
# An exact pin: this build is the CPU one; a looser spec pulls a multi-GB CUDA build.
TORCH := torch==2.13.0
# What napari needs to draw under a virtual X server (xvfb-run) on Debian/Ubuntu, and Debian's
# Chromium for the web page's end-to-end test.
APT_PACKAGES := xvfb xauth libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 \
	libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0 libxcb-xfixes0 libxcb-shape0 \
	libxcb-cursor0 libdbus-1-3 chromium

.PHONY: demo test install install-test system-deps

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

install: $(VENV)/bin/python
	$(PIP) install -q $(TORCH) -e .

install-test: $(VENV)/bin/python
	$(PIP) install -q $(TORCH) -e ".[testing]"

# Non-interactive apt (no debconf prompt on a fresh machine); sudo drops the environment, hence env.
system-deps: export DEBIAN_FRONTEND = noninteractive
system-deps:
	@if command -v apt-get >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo env DEBIAN_FRONTEND=noninteractive" ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(APT_PACKAGES); \
	else echo "No apt-get: install Xvfb and the Qt/OpenGL libraries yourself."; fi

demo: install
	$(VENV)/bin/napari-lowlight demo

test: system-deps install-test
	xvfb-run -a $(VENV)/bin/python -m pytest
