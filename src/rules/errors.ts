import { XctlError } from '../errors';

/** A problem in a rule file, always with the place it was found. */
export interface SourcePos {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
}

export class RuleError extends XctlError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    override readonly message: string,
  ) {
    super(message);
  }

  static at(pos: SourcePos, message: string): RuleError {
    return new RuleError(pos.file, pos.line, pos.col, message);
  }

  override toString(): string {
    return `${this.file}:${this.line}:${this.col}: ${this.message}`;
  }
}

export function formatPos(pos: SourcePos): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}
