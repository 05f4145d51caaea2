from acorntui.cli.main import main

raise SystemExit(main())
