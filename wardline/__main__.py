from wardline.cli import main

raise SystemExit(main())
