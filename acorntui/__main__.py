from acorntui.cli import main

raise SystemExit(main())
