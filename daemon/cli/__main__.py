from alice.daemon.cli.main import main

main()
