from blogworker.main import main

main()
