# Two entry points on a fresh machine: `make app` and `make test` (see README). Both create .venv from
# the pinned requirements the first time and reuse it afterwards.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: app test setup clean-venv

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

app: $(VENV)/.installed
	$(PY) app.py

test: $(VENV)/.installed
	HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False $(PY) -m pytest

clean-venv:
	rm -rf $(VENV)
