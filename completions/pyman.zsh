#compdef pyman

_pyman_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _PYMAN_COMPLETE=complete_zsh pyman)
}

compdef _pyman_completion pyman
