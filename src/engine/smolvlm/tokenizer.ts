// Tokenizer from tokenizer.json (byte-level BPE for SmolVLM) through @huggingface/tokenizers,
// a dependency-free JS port of the Rust tokenizers library.
import { Tokenizer } from '@huggingface/tokenizers';

export class SmolTokenizer {
  private readonly tok: Tokenizer;

  constructor(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown>) {
    this.tok = new Tokenizer(tokenizerJson, tokenizerConfig);
  }

  /** Token ids of a text; special tokens written in the text are recognised, none are added. */
  encode(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: true }).ids;
  }

  decode(ids: ArrayLike<number>, skipSpecialTokens = false): string {
    return this.tok.decode(Array.from(ids), { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: false });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }
}
