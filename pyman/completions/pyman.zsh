#compdef pyman
# pyman's zsh completion: save it as _pyman in a directory on $fpath, e.g.
#   mkdir -p ~/.zfunc && pyman completion zsh > ~/.zfunc/_pyman
# with `fpath=(~/.zfunc $fpath)` before `compinit` in ~/.zshrc

_pyman_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _PYMAN_COMPLETE=complete_zsh pyman)
}

compdef _pyman_completion pyman
