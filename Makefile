.PHONY: test demo bench
VENV ?= $(or $(HOTSPOTS_VENV),.venv)

test:  ## install what is needed, make a throwaway PostGIS database, run every test
	bash scripts/test.sh

demo:  ## install what is needed and start the service with demo data on http://127.0.0.1:8000
	bash scripts/demo.sh $(ARGS)

bench:  ## run the benchmarks (figures printed and written under bench/results/)
	bash scripts/ensure-postgis.sh && bash scripts/ensure-venv.sh
	$(VENV)/bin/python bench/ingest.py
	$(VENV)/bin/python bench/analysis.py
	$(VENV)/bin/python bench/stats.py
	$(VENV)/bin/python bench/mvt.py
	$(VENV)/bin/python bench/crash.py
	$(VENV)/bin/python bench/load.py
	$(VENV)/bin/python bench/load.py --embedded
	$(VENV)/bin/python bench/embedded.py
