# pyman's fish completion: save it as ~/.config/fish/completions/pyman.fish
#   pyman completion fish > ~/.config/fish/completions/pyman.fish
complete --command pyman --no-files --arguments "(env _PYMAN_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=get-args _TYPER_COMPLETE_ARGS=(commandline -cp) pyman)" --condition "env _PYMAN_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=is-args _TYPER_COMPLETE_ARGS=(commandline -cp) pyman"
