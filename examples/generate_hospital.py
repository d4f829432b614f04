"""Write a synthetic hospital inventory: `python examples/generate_hospital.py --beds 2000`."""

from wardline.example_hospital import main

if __name__ == "__main__":
    raise SystemExit(main())
