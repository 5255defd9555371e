.PHONY: test demo serve bench

test:  ## install what is needed, make a throwaway PostGIS database, run every test
	bash scripts/test.sh

bench:  ## run the benchmarks (figures printed and written under bench/results/)
	bash scripts/ensure-postgis.sh && bash scripts/ensure-venv.sh
	.venv/bin/python bench/ingest.py
