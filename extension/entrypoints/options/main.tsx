import { mountPage } from '../../ui/mount';
import { Options } from './Options';
import '../../ui/page.css';

void mountPage('/options.html', <Options />);
